// The cuDNN reference path of the recurrent op (engine cudnn, src/cudnn/rnn.cpp) against
// kiln's native kernels on the same GPU: outputs, final states and every gradient, for
// lstm, gru and both Elman cells, stacked, bidirectional, unequal lengths; and the errors
// for what cuDNN cannot do. GPU only: skipped, visibly, without one.
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/ops/rnn.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using test::all_close;

struct CudnnCase {
  std::string name;
  RnnConfig config;
  int steps, batch;
  std::vector<float> lengths;  // empty: every sequence has all `steps`
  bool states;                 // pass h0/c0 and dhn/dcn
};

RnnConfig make_config(RnnMode mode, int input, int hidden, int layers, bool bidirectional) {
  RnnConfig c;
  c.mode = mode;
  c.input_size = input;
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.bidirectional = bidirectional;
  return c;
}

std::vector<CudnnCase> cudnn_cases() {
  return {
      {"lstm_2layers_bidir_lengths", make_config(RnnMode::lstm, 5, 37, 2, true), 6, 3, {6, 2, 4}, true},
      {"lstm_T1_B1", make_config(RnnMode::lstm, 3, 8, 1, false), 1, 1, {}, false},
      {"gru_bidir_lengths", make_config(RnnMode::gru, 4, 33, 2, true), 5, 4, {1, 5, 3, 5}, true},
      {"rnn_tanh_3layers", make_config(RnnMode::rnn_tanh, 6, 16, 3, false), 4, 2, {4, 3}, true},
      {"rnn_relu_bidir", make_config(RnnMode::rnn_relu, 3, 20, 1, true), 5, 2, {2, 5}, false},
  };
}

struct Output {
  std::string name;
  std::vector<float> values;
  bool gradient;
};

// Every tensor of one forward + backward on the GPU, filled from fixed seeds.
struct EngineRun {
  EngineRun(const CudnnCase& c, const Device& device) : config(c.config) {
    const int64_t T = c.steps, B = c.batch, D = config.directions(), H = config.hidden_size;
    const Shape states{config.num_layers * D, B, H};
    const bool lstm = config.mode == RnnMode::lstm;
    uint64_t seed = 40;
    for (const RnnParamSpec& spec : rnn_param_specs(config)) {
      params.push_back(test::random_tensor(spec.shape, device, seed++, -0.4f, 0.4f));
      grads.push_back(Tensor::zeros(spec.shape, device));
    }
    x = test::random_tensor({T, B, config.input_size}, device, seed++);
    dy = test::random_tensor({T, B, D * H}, device, seed++);
    if (!c.lengths.empty()) lengths = Tensor::from_vector(c.lengths, {B}, device);
    if (c.states) {
      h0 = test::random_tensor(states, device, seed++);
      dhn = test::random_tensor(states, device, seed++);
      if (lstm) c0 = test::random_tensor(states, device, seed++);
      if (lstm) dcn = test::random_tensor(states, device, seed++);
    }
    y = Tensor({T, B, D * H}, device);
    dx = Tensor(x.shape(), device);
    hn = Tensor::zeros(states, device);
    dh0 = Tensor::zeros(states, device);
    if (lstm) cn = Tensor::zeros(states, device);
    if (lstm) dc0 = Tensor::zeros(states, device);
  }

  static const Tensor* opt(const Tensor& t) { return t.defined() ? &t : nullptr; }
  static Tensor* opt(Tensor& t) { return t.defined() ? &t : nullptr; }
  std::vector<const Tensor*> param_ptrs() const {
    std::vector<const Tensor*> p;
    for (const Tensor& t : params) p.push_back(&t);
    return p;
  }

  void forward(Engine engine, RnnReserve* reserve) {
    ops::rnn_forward(config, param_ptrs(), x, opt(lengths), opt(h0), opt(c0), y, opt(hn),
                     opt(cn), reserve, {}, engine);
  }
  void backward(Engine engine, const RnnReserve& reserve) {
    std::vector<Tensor*> g;
    for (Tensor& t : grads) g.push_back(&t);
    ops::rnn_backward(config, param_ptrs(), x, opt(lengths), opt(h0), opt(c0), y, dy, opt(dhn),
                      opt(dcn), reserve, &dx, opt(dh0), opt(dc0), g, {}, engine);
  }
  // Everything the op wrote, in a fixed order.
  std::vector<Output> outputs() const {
    std::vector<Output> out = {{"y", y.to_vector(), false}, {"hn", hn.to_vector(), false},
                               {"dx", dx.to_vector(), true}, {"dh0", dh0.to_vector(), true}};
    if (cn.defined()) out.push_back({"cn", cn.to_vector(), false});
    if (dc0.defined()) out.push_back({"dc0", dc0.to_vector(), true});
    const std::vector<RnnParamSpec> specs = rnn_param_specs(config);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      out.push_back({"d" + specs[i].name, grads[i].to_vector(), true});
    }
    return out;
  }

  RnnConfig config;
  std::vector<Tensor> params, grads;
  Tensor x, dy, lengths, h0, c0, dhn, dcn, y, dx, hn, cn, dh0, dc0;
};

class RnnCudnnTest : public testing::TestWithParam<CudnnCase> {};

// rnn_test.cpp bounds each engine's error against the exact (double) result by 2e-5 on
// outputs and states and 1e-4 on gradients (plus 1e-4 relative); two engines within those
// of the exact values are within twice of each other.
TEST_P(RnnCudnnTest, MatchesNativeKernels) {
  KILN_REQUIRE_GPU();
  const CudnnCase& c = GetParam();
  const Device gpu = Device::cuda(0);
  EngineRun native(c, gpu), cudnn(c, gpu);
  RnnReserve native_reserve, cudnn_reserve;
  native.forward(Engine::native, &native_reserve);
  native.backward(Engine::native, native_reserve);
  cudnn.forward(Engine::cudnn, &cudnn_reserve);
  cudnn.backward(Engine::cudnn, cudnn_reserve);
  const auto expected = native.outputs(), actual = cudnn.outputs();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Output& e = expected[i];
    EXPECT_TRUE(all_close(actual[i].values, e.values, e.gradient ? 2e-4 : 4e-5, 2e-4)) << e.name;
  }
  // A second backward from the same reserve gives the same gradients (up to cuDNN's own
  // summation order): backward works on a copy of the reserve space, which cuDNN writes.
  cudnn.backward(Engine::cudnn, cudnn_reserve);
  const auto second = cudnn.outputs();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(all_close(second[i].values, actual[i].values, 1e-6, 1e-5)) << actual[i].name;
  }
}

// Inference mode (no reserve) computes the same outputs as training mode.
TEST_P(RnnCudnnTest, InferenceMatchesTrainingForward) {
  KILN_REQUIRE_GPU();
  const CudnnCase& c = GetParam();
  EngineRun training(c, Device::cuda(0)), inference(c, Device::cuda(0));
  RnnReserve reserve;
  training.forward(Engine::cudnn, &reserve);
  inference.forward(Engine::cudnn, nullptr);
  EXPECT_TRUE(all_close(inference.y.to_vector(), training.y.to_vector(), 1e-6, 1e-6));
  EXPECT_TRUE(all_close(inference.hn.to_vector(), training.hn.to_vector(), 1e-6, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Cuda, RnnCudnnTest, testing::ValuesIn(cudnn_cases()),
                         [](const testing::TestParamInfo<CudnnCase>& info) {
                           return "cuda_" + info.param.name;
                         });

// What cuDNN cannot do is an error that says so, never a silent difference.
TEST(RnnCudnnErrors, RefusesWhatCudnnCannotDo) {
  KILN_REQUIRE_GPU();
  const auto message = [](const CudnnCase& c, const char* needle) {
    EngineRun run(c, Device::cuda(0));
    RnnReserve reserve;
    try {
      run.forward(Engine::cudnn, &reserve);
    } catch (const Error& e) {
      return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
  };
  CudnnCase peephole = cudnn_cases()[1];
  peephole.config.peepholes = true;
  EXPECT_TRUE(message(peephole, "peephole"));
  CudnnCase zero = cudnn_cases()[0];
  zero.lengths = {6, 0, 4};
  EXPECT_TRUE(message(zero, "zero-length"));
  CudnnCase dropout = cudnn_cases()[0];
  dropout.config.dropout = 0.3f;
  EXPECT_TRUE(message(dropout, "dropout"));
  // A native reserve cannot feed a cuDNN backward.
  EngineRun run(cudnn_cases()[0], Device::cuda(0));
  RnnReserve native_reserve;
  run.forward(Engine::native, &native_reserve);
  EXPECT_THROW(run.backward(Engine::cudnn, native_reserve), Error);
}

}  // namespace
}  // namespace kiln
