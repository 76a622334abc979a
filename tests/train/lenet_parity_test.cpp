// A few SGD steps of LeNet-5 on cpu and on simt (kiln's CUDA kernels on the
// emulator) from the same initial weights and the same data: the losses and the
// weights must agree. Needs the conv2d, pool2d, linear and softmax_cross_entropy
// ops on both devices.
#include <gtest/gtest.h>

#include <string>

#include "kiln/graph/model_file.h"
#include "kiln/ops/softmax_cross_entropy.h"
#include "kiln/train/optimizer.h"
#include "support/op_test.h"
#include "train/synthetic_data.h"

namespace kiln {
namespace {

struct Trace {
  std::vector<float> losses;
  std::vector<std::vector<float>> initial, final;
};

Trace train_lenet(Device device, int steps) {
  const std::string here = __FILE__;
  const std::string model = here.substr(0, here.rfind("/tests/")) + "/models/lenet5.yaml";
  graph::GraphOptions options;
  options.seed = 7;
  graph::Graph g = graph::load_model(model, device, options);
  test::SyntheticData data(12, {1, 28, 28}, 10, device, 5);
  train::OptimizerConfig config;  // sgd, momentum 0.9
  config.weight_decay = 5e-4f;
  train::Optimizer opt(config, g.params(), device);
  Trace t;
  for (graph::Param* p : g.params()) t.initial.push_back(p->value.to_vector());
  const int64_t batch = 3;
  g.set_batch(batch);
  for (int step = 0; step < steps; ++step) {
    data.gather(step * batch, g.input("data"), g.input("label"));
    const graph::RunContext ctx = g.context(true, step);
    g.forward(ctx);
    t.losses.push_back(g.value("loss").to_vector()[0]);
    g.backward(ctx);
    opt.step(0.05f);
  }
  for (graph::Param* p : g.params()) t.final.push_back(p->value.to_vector());
  return t;
}

TEST(LeNetParity, SimtMatchesCpuOverSgdSteps) {
  const int steps = 3;
  const Trace cpu = train_lenet(Device::cpu(), steps);
  const Trace simt = train_lenet(Device::simt(), steps);
  // Initial weights are generated on the host: bit-identical on every device.
  ASSERT_EQ(cpu.initial, simt.initial);
  // Both devices compute in float32 and differ only in summation order (OpenBLAS's
  // blocked sgemm and OpenMP on cpu; the kernels' per-thread and tree orders on
  // simt). The longest sums here have a few hundred terms (conv2's filter gradient
  // sums N*P*Q = 300 products; fc1 reads 400 inputs), so a value's relative
  // difference is at most ~K * 6e-8 = 2e-5 and typically sqrt(K) * 6e-8 ~ 1e-6.
  // The loss is a mean of logs of such values: rtol 1e-4. Weights move by
  // lr (0.05) times gradients of order 1 per step, so order-of-summation noise is
  // ~1e-6 after three steps, while one wrong gradient term would move a weight by
  // ~1e-3: atol 2e-5 separates the two.
  EXPECT_TRUE(test::all_close(simt.losses, cpu.losses, 1e-6, 1e-4));
  for (size_t i = 0; i < cpu.final.size(); ++i) {
    EXPECT_TRUE(test::all_close(simt.final[i], cpu.final[i], 2e-5, 1e-4)) << "parameter " << i;
  }
  // The weights really moved (the comparison is not of untouched values).
  EXPECT_NE(cpu.final, cpu.initial);
}

}  // namespace
}  // namespace kiln
