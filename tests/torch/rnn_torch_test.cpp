// kiln's recurrent op (cpu, engine native) against libtorch's torch::nn::LSTM / GRU / RNN
// on the same weights and inputs: outputs, final states and the gradients of the input, the
// initial states and every weight. The double reference in tests/reference/rnn.h is written
// by the same hands as the kernels and could share a misreading of the conventions (gate
// order, the GRU's reset product, the reverse direction of a short sequence, which state is
// "final"); PyTorch cannot. Unequal lengths go through pack_padded_sequence (unsorted), as a
// PyTorch user would run them. Also checks that kiln's parameter names and shapes are
// exactly named_parameters() of the PyTorch module, in order.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

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

torch::Tensor to_torch(const Tensor& t, bool requires_grad) {
  std::vector<float> values = t.to_vector();
  return torch::from_blob(values.data(), t.shape(), torch::kFloat)
      .clone()
      .requires_grad_(requires_grad);
}

std::vector<float> to_host(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

struct TorchResult {
  torch::Tensor y, hn, cn;
};

void take_state(const torch::Tensor& h, TorchResult& r) { r.hn = h; }
void take_state(const std::tuple<torch::Tensor, torch::Tensor>& hc, TorchResult& r) {
  r.hn = std::get<0>(hc);
  r.cn = std::get<1>(hc);
}

// y [T, B, D*H], hn (cn) of module `m` from state `state`; packed by `lengths` when defined,
// with y padded back to `steps` (zeros past each end, as kiln writes).
template <class Module, class State>
TorchResult run_module(Module& m, const torch::Tensor& x, const torch::Tensor& lengths,
                       const State& state, int64_t steps) {
  namespace rnn_utils = torch::nn::utils::rnn;
  TorchResult r;
  if (lengths.defined()) {
    const auto out = m->forward_with_packed_input(
        rnn_utils::pack_padded_sequence(x, lengths, /*batch_first=*/false,
                                        /*enforce_sorted=*/false),
        state);
    r.y = std::get<0>(rnn_utils::pad_packed_sequence(std::get<0>(out), false, 0.0, steps));
    take_state(std::get<1>(out), r);
  } else {
    const auto out = m->forward(x, state);
    r.y = std::get<0>(out);
    take_state(std::get<1>(out), r);
  }
  return r;
}

// A PyTorch module of kiln's configuration and how to run it.
struct TorchModel {
  std::shared_ptr<torch::nn::Module> module;
  std::function<TorchResult(const torch::Tensor& x, const torch::Tensor& lengths,
                            const torch::Tensor& h0, const torch::Tensor& c0, int64_t steps)>
      run;
};

TorchModel make_model(const RnnConfig& c) {
  const int64_t F = c.input_size, H = c.hidden_size;
  if (c.mode == RnnMode::lstm) {
    torch::nn::LSTM m(
        torch::nn::LSTMOptions(F, H).num_layers(c.num_layers).bidirectional(c.bidirectional));
    return {m.ptr(), [m](const auto& x, const auto& lengths, const auto& h0, const auto& c0,
                         int64_t steps) mutable {
              return run_module(m, x, lengths, std::make_tuple(h0, c0), steps);
            }};
  }
  if (c.mode == RnnMode::gru) {
    torch::nn::GRU m(
        torch::nn::GRUOptions(F, H).num_layers(c.num_layers).bidirectional(c.bidirectional));
    return {m.ptr(), [m](const auto& x, const auto& lengths, const auto& h0, const auto&,
                         int64_t steps) mutable { return run_module(m, x, lengths, h0, steps); }};
  }
  torch::nn::RNNOptions options(F, H);
  options.num_layers(c.num_layers).bidirectional(c.bidirectional);
  if (c.mode == RnnMode::rnn_relu) options.nonlinearity(torch::kReLU);
  torch::nn::RNN m(options);
  return {m.ptr(), [m](const auto& x, const auto& lengths, const auto& h0, const auto&,
                       int64_t steps) mutable { return run_module(m, x, lengths, h0, steps); }};
}

// Copies kiln's parameters into the module, checking that the names, order and shapes are
// PyTorch's (so kiln's safetensors checkpoints load into the same module).
void load_parameters(torch::nn::Module& module, const RnnRun& run) {
  const std::vector<RnnParamSpec> specs = rnn_param_specs(run.config);
  auto named = module.named_parameters();
  ASSERT_EQ(named.size(), specs.size());
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(named[i].key(), specs[i].name);
    EXPECT_EQ(named[i].value().sizes().vec(), specs[i].shape) << specs[i].name;
    named[i].value().copy_(to_torch(run.params[i], false));
  }
}

// Runs the module on the same inputs, backpropagates L = dy.y + dhn.hn (+ dcn.cn), and
// returns what kiln's RnnRun::outputs() returns, in the same order.
std::vector<std::vector<float>> torch_outputs(const RnnRunCase& c, const RnnRun& run) {
  TorchModel model = make_model(c.config);
  load_parameters(*model.module, run);
  const bool lstm = c.config.mode == RnnMode::lstm;
  const auto states = [&](const Tensor& given) {
    return given.defined() ? to_torch(given, true)
                           : torch::zeros(run.hn.shape(), torch::requires_grad());
  };
  const torch::Tensor x = to_torch(run.x, true), h0 = states(run.h0);
  const torch::Tensor c0 = lstm ? states(run.c0) : torch::Tensor();
  torch::Tensor lengths;
  if (run.lengths.defined()) lengths = to_torch(run.lengths, false).to(torch::kInt64);
  const TorchResult r = model.run(x, lengths, h0, c0, c.steps);
  torch::Tensor loss = (r.y * to_torch(run.dy, false)).sum();
  if (run.dhn.defined()) loss = loss + (r.hn * to_torch(run.dhn, false)).sum();
  if (run.dcn.defined()) loss = loss + (r.cn * to_torch(run.dcn, false)).sum();
  loss.backward();
  std::vector<std::vector<float>> out = {to_host(r.y), to_host(r.hn), to_host(x.grad()),
                                         to_host(h0.grad())};
  if (lstm) {
    out.push_back(to_host(r.cn));
    out.push_back(to_host(c0.grad()));
  }
  for (const auto& p : model.module->named_parameters()) out.push_back(to_host(p.value().grad()));
  return out;
}

std::vector<RnnRunCase> torch_cases() {
  using M = RnnMode;
  return {
      {"lstm_2layers_bidir_packed", rnn_config(M::lstm, 5, 9, 2, true), 6, 3, {6, 2, 4}, true},
      {"lstm_T1_B1", rnn_config(M::lstm, 3, 4, 1, false), 1, 1, {}, false},
      {"lstm_3layers_states", rnn_config(M::lstm, 4, 7, 3, false), 5, 2, {}, true},
      {"gru_2layers_bidir_packed", rnn_config(M::gru, 4, 6, 2, true), 5, 4, {1, 5, 3, 5}, true},
      {"gru_packed_no_states", rnn_config(M::gru, 3, 5, 1, false), 4, 3, {4, 2, 3}, false},
      {"rnn_tanh_3layers_packed", rnn_config(M::rnn_tanh, 6, 8, 3, false), 4, 2, {4, 3}, true},
      {"rnn_relu_2layers_bidir_packed", rnn_config(M::rnn_relu, 3, 10, 2, true), 5, 2, {2, 5},
       false},
  };
}

class RnnTorchTest : public testing::TestWithParam<RnnRunCase> {};

// Tolerances: tests/ops/rnn_test.cpp bounds kiln's float error against the exact result by
// 2e-5 on outputs and states and 1e-4 on gradients (plus 1e-4 relative); libtorch computes
// the same quantities in float with its own summation orders, within the same bounds, so the
// two are within twice of each other.
TEST_P(RnnTorchTest, MatchesLibtorch) {
  const RnnRunCase& c = GetParam();
  RnnRun run(c, Device::cpu());
  RnnReserve reserve;
  run.forward(Engine::native, &reserve);
  run.backward(Engine::native, reserve);
  const std::vector<RnnOutput> kiln_out = run.outputs();
  const std::vector<std::vector<float>> torch_out = torch_outputs(c, run);
  ASSERT_EQ(kiln_out.size(), torch_out.size());
  for (std::size_t i = 0; i < kiln_out.size(); ++i) {
    const RnnOutput& k = kiln_out[i];
    EXPECT_TRUE(all_close(k.values, torch_out[i], k.gradient ? 2e-4 : 4e-5, 2e-4)) << k.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, RnnTorchTest, testing::ValuesIn(torch_cases()),
                         [](const testing::TestParamInfo<RnnRunCase>& info) {
                           return "cpu_" + info.param.name;
                         });

}  // namespace
}  // namespace kiln
