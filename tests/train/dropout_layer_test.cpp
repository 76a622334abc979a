// The dropout layer: identity in evaluation, inverted dropout in training with a
// mask that is the same on every device, that backward reuses, and that changes
// from step to step. Needs the dropout op.
#include <gtest/gtest.h>

#include "kiln/graph/model_file.h"
#include "support/op_test.h"

namespace kiln {
namespace {

const char* kModel = R"(
layers:
  - {name: x, type: input, shape: [3, 5]}
  - {name: drop, type: dropout, input: x, p: 0.4}
)";

struct Pass {
  std::vector<float> y, dx;
};

Pass run(Device d, bool training, uint64_t step) {
  graph::GraphOptions options;
  options.seed = 9;
  options.input_gradients = true;
  graph::Graph g(d, options);
  graph::add_model_yaml(g, kModel);
  g.build();
  g.set_batch(2);
  g.input("x").copy_from(test::random_tensor({2, 3, 5}, Device::cpu(), 1, 0.5f, 1.5f));
  const graph::RunContext ctx = g.context(training, step);
  g.forward(ctx);
  g.backward_from("drop", Tensor::full({2, 3, 5}, 1.0f, d), ctx);
  return {g.value("drop").to_vector(), g.gradient("x").to_vector()};
}

TEST(DropoutLayer, EvalIsIdentityTrainingIsInvertedDropoutOnEveryDevice) {
  const std::vector<float> x = test::random_vector(30, 1, 0.5f, 1.5f);
  const Pass eval = run(Device::cpu(), false, 3);
  EXPECT_EQ(eval.y, x);
  EXPECT_EQ(eval.dx, std::vector<float>(30, 1.0f));

  const Pass cpu = run(Device::cpu(), true, 3);
  int dropped = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (cpu.y[i] == 0.0f) {
      ++dropped;
      EXPECT_EQ(cpu.dx[i], 0.0f) << i;  // backward drops the same elements
    } else {
      EXPECT_FLOAT_EQ(cpu.y[i], x[i] / 0.6f) << i;
      EXPECT_FLOAT_EQ(cpu.dx[i], 1.0f / 0.6f) << i;
    }
  }
  EXPECT_GT(dropped, 3);  // p = 0.4 of 30: 12 expected
  EXPECT_LT(dropped, 24);
  EXPECT_NE(run(Device::cpu(), true, 4).y, cpu.y) << "the mask must change between steps";
  for (const Device& d : test::test_devices()) {
    if (d.is_cpu()) continue;
    const Pass other = run(d, true, 3);
    EXPECT_TRUE(test::all_close(other.y, cpu.y, 1e-6, 1e-6)) << d.str();
    EXPECT_TRUE(test::all_close(other.dx, cpu.dx, 1e-6, 1e-6)) << d.str();
  }
}

}  // namespace
}  // namespace kiln
