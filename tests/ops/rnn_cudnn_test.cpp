// The cuDNN reference path of the recurrent op (engine cudnn, src/cudnn/rnn.cpp) against
// kiln's native kernels on the same GPU: outputs, final states and every gradient, for
// lstm, gru and both Elman cells, stacked, bidirectional, unequal lengths; and the errors
// for what cuDNN cannot do. GPU only: skipped, visibly, without one.
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/ops/rnn.h"
#include "support/op_test.h"
#include "support/rnn_run.h"

namespace kiln {
namespace {

using test::all_close;
using test::rnn_config;
using test::RnnOutput;
using test::RnnRun;
using test::RnnRunCase;

std::vector<RnnRunCase> cudnn_cases() {
  return {
      {"lstm_2layers_bidir_lengths", rnn_config(RnnMode::lstm, 5, 37, 2, true), 6, 3, {6, 2, 4}, true},
      {"lstm_T1_B1", rnn_config(RnnMode::lstm, 3, 8, 1, false), 1, 1, {}, false},
      {"gru_bidir_lengths", rnn_config(RnnMode::gru, 4, 33, 2, true), 5, 4, {1, 5, 3, 5}, true},
      {"rnn_tanh_3layers", rnn_config(RnnMode::rnn_tanh, 6, 16, 3, false), 4, 2, {4, 3}, true},
      {"rnn_relu_bidir", rnn_config(RnnMode::rnn_relu, 3, 20, 1, true), 5, 2, {2, 5}, false},
  };
}

class RnnCudnnTest : public testing::TestWithParam<RnnRunCase> {};

// rnn_test.cpp bounds each engine's error against the exact (double) result by 2e-5 on
// outputs and states and 1e-4 on gradients (plus 1e-4 relative); two engines within those
// of the exact values are within twice of each other.
TEST_P(RnnCudnnTest, MatchesNativeKernels) {
  KILN_REQUIRE_GPU();
  const RnnRunCase& c = GetParam();
  const Device gpu = Device::cuda(0);
  RnnRun native(c, gpu), cudnn(c, gpu);
  RnnReserve native_reserve, cudnn_reserve;
  native.forward(Engine::native, &native_reserve);
  native.backward(Engine::native, native_reserve);
  cudnn.forward(Engine::cudnn, &cudnn_reserve);
  cudnn.backward(Engine::cudnn, cudnn_reserve);
  const auto expected = native.outputs(), actual = cudnn.outputs();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const RnnOutput& e = expected[i];
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
  const RnnRunCase& c = GetParam();
  RnnRun training(c, Device::cuda(0)), inference(c, Device::cuda(0));
  RnnReserve reserve;
  training.forward(Engine::cudnn, &reserve);
  inference.forward(Engine::cudnn, nullptr);
  EXPECT_TRUE(all_close(inference.y.to_vector(), training.y.to_vector(), 1e-6, 1e-6));
  EXPECT_TRUE(all_close(inference.hn.to_vector(), training.hn.to_vector(), 1e-6, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Cuda, RnnCudnnTest, testing::ValuesIn(cudnn_cases()),
                         [](const testing::TestParamInfo<RnnRunCase>& info) {
                           return "cuda_" + info.param.name;
                         });

// What cuDNN cannot do is an error that says so, never a silent difference.
TEST(RnnCudnnErrors, RefusesWhatCudnnCannotDo) {
  KILN_REQUIRE_GPU();
  const auto message = [](const RnnRunCase& c, const char* needle) {
    RnnRun run(c, Device::cuda(0));
    RnnReserve reserve;
    try {
      run.forward(Engine::cudnn, &reserve);
    } catch (const Error& e) {
      return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
  };
  RnnRunCase peephole = cudnn_cases()[1];
  peephole.config.peepholes = true;
  EXPECT_TRUE(message(peephole, "peephole"));
  RnnRunCase zero = cudnn_cases()[0];
  zero.lengths = {6, 0, 4};
  EXPECT_TRUE(message(zero, "zero-length"));
  RnnRunCase dropout = cudnn_cases()[0];
  dropout.config.dropout = 0.3f;
  EXPECT_TRUE(message(dropout, "dropout"));
  // A native reserve cannot feed a cuDNN backward.
  RnnRun run(cudnn_cases()[0], Device::cuda(0));
  RnnReserve native_reserve;
  run.forward(Engine::native, &native_reserve);
  EXPECT_THROW(run.backward(Engine::cudnn, native_reserve), Error);
}

}  // namespace
}  // namespace kiln
