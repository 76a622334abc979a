// Recurrent layers (lstm with and without peepholes, gru, rnn_tanh, rnn_relu) on every device
// against the double reference (tests/reference/rnn.h): outputs, final states and every
// gradient; finite-difference checks of the reference; a padded batch against its sequences
// run one by one; truncated BPTT in chunks; argument errors.
#include "kiln/ops/rnn.h"

#include <cmath>
#include <functional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "kiln/error.h"
#include "reference/gradient_check.h"
#include "reference/rnn.h"
#include "support/cpu_isa.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::to_double;
using test::all_close;
using test::error_of;

struct RnnCase {
  std::string name;
  RnnMode mode;
  int input, hidden, layers;
  bool bidirectional, peepholes;
  int steps, batch;
  std::vector<int> lengths;  // empty: all `steps`
  float dropout = 0.0f;
  bool states = false;       // pass h0 (c0) and dhn (dcn)
};

void PrintTo(const RnnCase& c, std::ostream* os) { *os << c.name; }

RnnConfig config_of(const RnnCase& c) {
  RnnConfig config;
  config.mode = c.mode;
  config.input_size = c.input;
  config.hidden_size = c.hidden;
  config.num_layers = c.layers;
  config.bidirectional = c.bidirectional;
  config.peepholes = c.peepholes;
  config.dropout = c.dropout;
  return config;
}

constexpr RnnDropout kDropout{1234, 56};

reference::RnnRefCase reference_case(const RnnCase& c) {
  reference::RnnRefCase r;
  r.mode = static_cast<reference::RnnRefMode>(static_cast<int>(c.mode));
  r.input = c.input;
  r.hidden = c.hidden;
  r.layers = c.layers;
  r.bidirectional = c.bidirectional;
  r.peepholes = c.peepholes;
  r.steps = c.steps;
  r.batch = c.batch;
  r.lengths = c.lengths;
  r.dropout = c.dropout;
  r.seed = kDropout.seed;
  r.offset = kDropout.offset;
  return r;
}

// Host-side inputs of one call; empty vectors are null arguments.
struct Inputs {
  std::vector<std::vector<float>> params;
  std::vector<float> x, lengths, h0, c0, dy, dhn, dcn;
};

struct Results {
  std::vector<float> y, hn, cn, dx, dh0, dc0;
  std::vector<std::vector<float>> grads;
};

// Weights uniform in +-1/sqrt(H) (PyTorch's default init), inputs and gradients in [-1, 1).
Inputs random_inputs(const RnnCase& c, uint64_t seed) {
  const RnnConfig config = config_of(c);
  const float k = 1.0f / std::sqrt(static_cast<float>(c.hidden));
  Inputs in;
  for (const RnnParamSpec& spec : rnn_param_specs(config)) {
    in.params.push_back(test::random_vector(numel_of(spec.shape), seed++, -k, k));
  }
  const int64_t dirs = config.directions(), states = c.layers * dirs * c.batch * c.hidden;
  in.x = test::random_vector(static_cast<std::size_t>(c.steps) * c.batch * c.input, seed++);
  in.dy = test::random_vector(static_cast<std::size_t>(c.steps) * c.batch * dirs * c.hidden, seed++);
  for (int len : c.lengths) in.lengths.push_back(static_cast<float>(len));
  if (c.states) {
    in.h0 = test::random_vector(states, seed++);
    in.dhn = test::random_vector(states, seed++);
    if (c.mode == RnnMode::lstm) {
      in.c0 = test::random_vector(states, seed++);
      in.dcn = test::random_vector(states, seed++);
    }
  }
  return in;
}

// A device tensor for a non-empty host vector.
struct Optional {
  Tensor t;
  Optional(const std::vector<float>& v, Shape shape, const Device& device) {
    if (!v.empty()) t = Tensor::from_vector(v, std::move(shape), device);
  }
  Optional(bool wanted, Shape shape, const Device& device) {
    if (wanted) t = Tensor::zeros(std::move(shape), device);
  }
  Tensor* get() { return t.defined() ? &t : nullptr; }
  std::vector<float> values() const { return t.defined() ? t.to_vector() : std::vector<float>{}; }
};

// `reuse`: the reserve to fill (one a previous call filled), or null for a fresh one.
Results run_on(const Device& device, const RnnCase& c, const Inputs& in, bool backward = true,
               RnnReserve* reuse = nullptr) {
  const RnnConfig config = config_of(c);
  const int64_t T = c.steps, B = c.batch, D = config.directions(), H = c.hidden;
  const Shape states{c.layers * D, B, H};
  const bool lstm = c.mode == RnnMode::lstm;
  std::vector<Tensor> params, grads;
  std::vector<const Tensor*> param_ptrs;
  std::vector<Tensor*> grad_ptrs;
  const std::vector<RnnParamSpec> specs = rnn_param_specs(config);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    params.push_back(Tensor::from_vector(in.params[i], specs[i].shape, device));
    grads.push_back(Tensor::zeros(specs[i].shape, device));
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    param_ptrs.push_back(&params[i]);
    grad_ptrs.push_back(&grads[i]);
  }
  const Tensor x = Tensor::from_vector(in.x, {T, B, c.input}, device);
  Optional lengths(in.lengths, {B}, device), h0(in.h0, states, device), c0(in.c0, states, device);
  Tensor y({T, B, D * H}, device);
  Optional hn(true, states, device), cn(lstm, states, device);
  RnnReserve fresh;
  RnnReserve& reserve = reuse ? *reuse : fresh;
  ops::rnn_forward(config, param_ptrs, x, lengths.get(), h0.get(), c0.get(), y, hn.get(), cn.get(),
                   backward ? &reserve : nullptr, kDropout);
  Results r{y.to_vector(), hn.values(), cn.values(), {}, {}, {}, {}};
  if (!backward) return r;
  const Tensor dy = Tensor::from_vector(in.dy, y.shape(), device);
  Optional dhn(in.dhn, states, device), dcn(in.dcn, states, device);
  Tensor dx(x.shape(), device);
  Optional dh0(true, states, device), dc0(lstm, states, device);
  ops::rnn_backward(config, param_ptrs, x, lengths.get(), h0.get(), c0.get(), y, dy, dhn.get(),
                    dcn.get(), reserve, &dx, dh0.get(), dc0.get(), grad_ptrs, kDropout);
  r.dx = dx.to_vector();
  r.dh0 = dh0.values();
  r.dc0 = dc0.values();
  for (const Tensor& g : grads) r.grads.push_back(g.to_vector());
  return r;
}

std::vector<std::vector<double>> to_double_params(const std::vector<std::vector<float>>& p) {
  std::vector<std::vector<double>> out;
  for (const auto& v : p) out.push_back(to_double(v));
  return out;
}

std::vector<RnnCase> device_cases() {
  using M = RnnMode;
  return {
      {"lstm_T1_B1", M::lstm, 3, 5, 1, false, false, 1, 1, {}},
      {"lstm_peep_bidir_lengths", M::lstm, 4, 5, 1, true, true, 5, 3, {5, 2, 1}, 0.0f, true},
      {"lstm_3layers_bidir_H37", M::lstm, 3, 37, 3, true, false, 4, 2, {4, 3}},
      {"lstm_peep_2layers_states", M::lstm, 6, 7, 2, false, true, 4, 3, {1, 4, 3}, 0.0f, true},
      {"lstm_length0", M::lstm, 2, 3, 1, true, false, 3, 2, {0, 3}, 0.0f, true},
      {"lstm_dropout_3layers_bidir", M::lstm, 3, 5, 3, true, false, 4, 2, {2, 4}, 0.4f},
      {"gru_T1_B1", M::gru, 3, 5, 1, false, false, 1, 1, {}},
      {"gru_2layers_bidir_H37", M::gru, 4, 37, 2, true, false, 4, 3, {4, 1, 3}, 0.0f, true},
      {"gru_dropout", M::gru, 3, 6, 2, true, false, 3, 2, {3, 2}, 0.3f},
      {"rnn_tanh_2layers_bidir", M::rnn_tanh, 4, 5, 2, true, false, 5, 3, {5, 2, 3}, 0.0f, true},
      {"rnn_relu_2layers_bidir", M::rnn_relu, 3, 6, 2, true, false, 4, 2, {1, 4}, 0.0f, true},
      {"rnn_relu_dropout", M::rnn_relu, 3, 37, 2, false, false, 3, 2, {}, 0.5f},
  };
}

using RnnParam = std::tuple<Device, cpu::Isa, RnnCase>;
class RnnTest : public testing::TestWithParam<RnnParam> {
 protected:
  // The cpu cases run in the case's instruction-set variant (the recurrent GEMM's tiles).
  test::ScopedIsa isa_{std::get<1>(GetParam())};
};

// Tolerances from the float error of the pieces: each pre-activation is a dot product of
// in + H + 1 terms bounded by ~1 (|w| <= 1/sqrt(H)), so its float error is ~sqrt(in + H) ulp
// ~ 1e-6; sigmoid/tanh add an ulp or two and contract (slopes <= 1); the state recursion
// carries the error forward without growing it much over these few steps, so outputs and
// states get atol 2e-5. Gradients are sums over the T*B rows (and the dropout scale 1/(1-p)
// up to 2), so they get 1e-4 plus a relative 1e-4.
TEST_P(RnnTest, ForwardAndBackwardMatchReference) {
  const auto& [device, isa, c] = GetParam();
  const Inputs in = random_inputs(c, 100);
  const Results r = run_on(device, c, in);
  const reference::RnnRefCase rc = reference_case(c);
  const auto params = to_double_params(in.params);
  const auto x = to_double(in.x), h0 = to_double(in.h0), c0 = to_double(in.c0);
  const reference::RnnRefOutput ref = reference::rnn_forward(rc, params, x, h0, c0);
  const double atol = 2e-5, rtol = 1e-4;
  EXPECT_TRUE(all_close(r.y, ref.y, atol, rtol)) << "y";
  EXPECT_TRUE(all_close(r.hn, ref.hn, atol, rtol)) << "hn";
  EXPECT_TRUE(all_close(r.cn, ref.cn, atol, rtol)) << "cn";
  const reference::RnnRefGrads g = reference::rnn_backward(
      rc, params, x, h0, c0, to_double(in.dy), to_double(in.dhn), to_double(in.dcn));
  const double gtol = 1e-4;
  EXPECT_TRUE(all_close(r.dx, g.dx, gtol, rtol)) << "dx";
  EXPECT_TRUE(all_close(r.dh0, g.dh0, gtol, rtol)) << "dh0";
  EXPECT_TRUE(all_close(r.dc0, g.dc0, gtol, rtol)) << "dc0";
  const auto specs = rnn_param_specs(config_of(c));
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_TRUE(all_close(r.grads[i], g.dparams[i], gtol, rtol)) << specs[i].name;
  }
}

// Inference (no reserve) applies no dropout: it must match the reference without dropout.
TEST_P(RnnTest, InferenceForwardMatchesReferenceWithoutDropout) {
  const auto& [device, isa, c] = GetParam();
  const Inputs in = random_inputs(c, 300);
  const Results r = run_on(device, c, in, false);
  reference::RnnRefCase rc = reference_case(c);
  rc.dropout = 0.0;
  const reference::RnnRefOutput ref = reference::rnn_forward(
      rc, to_double_params(in.params), to_double(in.x), to_double(in.h0), to_double(in.c0));
  // As in ForwardAndBackwardMatchReference.
  EXPECT_TRUE(all_close(r.y, ref.y, 2e-5, 1e-4)) << "y";
  EXPECT_TRUE(all_close(r.hn, ref.hn, 2e-5, 1e-4)) << "hn";
  EXPECT_TRUE(all_close(r.cn, ref.cn, 2e-5, 1e-4)) << "cn";
}

std::vector<RnnParam> rnn_params() {
  std::vector<RnnParam> params;
  for (const auto& [device, isa] : test::devices_and_isas()) {
    for (const RnnCase& c : device_cases()) params.emplace_back(device, isa, c);
  }
  return params;
}

std::string rnn_param_name(const testing::TestParamInfo<RnnParam>& info) {
  const auto& [device, isa, c] = info.param;
  return test::device_isa_name(test::device_name(device), device, isa) + "_" + c.name;
}

INSTANTIATE_TEST_SUITE_P(Devices, RnnTest, testing::ValuesIn(rnn_params()), rnn_param_name);

// A reserve filled by another call (another mode and shape, then the same case with other
// inputs) is reused or resized, never read stale: results equal a fresh reserve's.
class RnnReserveTest : public testing::TestWithParam<Device> {};

TEST_P(RnnReserveTest, ReusedReserveGivesTheFreshResults) {
  const Device& device = GetParam();
  const RnnCase c{"reuse", RnnMode::lstm, 3, 5, 2, true, true, 4, 2, {4, 2}, 0.3f, true};
  RnnCase other = c;
  other.mode = c.mode == RnnMode::lstm ? RnnMode::gru : RnnMode::lstm;
  other.peepholes = false;
  other.hidden = c.hidden + 1;
  RnnReserve reserve;
  run_on(device, other, random_inputs(other, 600), true, &reserve);
  run_on(device, c, random_inputs(c, 700), true, &reserve);
  const Inputs in = random_inputs(c, 800);
  const Results reused = run_on(device, c, in, true, &reserve), fresh = run_on(device, c, in);
  EXPECT_EQ(reused.y, fresh.y);
  EXPECT_EQ(reused.hn, fresh.hn);
  EXPECT_EQ(reused.dx, fresh.dx);
  EXPECT_EQ(reused.dh0, fresh.dh0);
  EXPECT_EQ(reused.grads, fresh.grads);
}

INSTANTIATE_TEST_SUITE_P(Devices, RnnReserveTest, testing::ValuesIn(test::test_devices()),
                         [](const testing::TestParamInfo<Device>& info) {
                           return test::device_name(info.param);
                         });

// ---- finite differences on the reference -------------------------------------------------

// L = dy . y + dhn . hn + dcn . cn as one weighted output vector.
std::vector<double> all_outputs(const reference::RnnRefOutput& o) {
  std::vector<double> v = o.y;
  v.insert(v.end(), o.hn.begin(), o.hn.end());
  v.insert(v.end(), o.cn.begin(), o.cn.end());
  return v;
}

class RnnGradientCheck : public testing::TestWithParam<RnnCase> {};

TEST_P(RnnGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  const RnnCase& c = GetParam();
  const Inputs in = random_inputs(c, 200);
  const reference::RnnRefCase rc = reference_case(c);
  auto params = to_double_params(in.params);
  auto x = to_double(in.x), h0 = to_double(in.h0), c0 = to_double(in.c0);
  const auto dy = to_double(in.dy), dhn = to_double(in.dhn), dcn = to_double(in.dcn);
  const reference::RnnRefGrads g = reference::rnn_backward(rc, params, x, h0, c0, dy, dhn, dcn);
  std::vector<double> weights = dy;
  weights.insert(weights.end(), dhn.begin(), dhn.end());
  weights.insert(weights.end(), dcn.begin(), dcn.end());
  // Varies one argument (by reference) and returns the weighted outputs.
  auto numeric = [&](std::vector<double>& arg) {
    const std::vector<double> saved = arg;
    auto forward = [&](const std::vector<double>& at) {
      arg = at;
      return all_outputs(reference::rnn_forward(rc, params, x, h0, c0));
    };
    const std::vector<double> grad = reference::numeric_gradient(forward, saved, weights);
    arg = saved;
    return grad;
  };
  // Central differences with eps = 1e-6 in double: truncation ~eps^2 and rounding ~1e-16/eps,
  // both far below the 1e-6 tolerance.
  EXPECT_TRUE(reference::gradients_agree(g.dx, numeric(x))) << "dx";
  if (c.states) {
    EXPECT_TRUE(reference::gradients_agree(g.dh0, numeric(h0))) << "dh0";
    if (c.mode == RnnMode::lstm) {
      EXPECT_TRUE(reference::gradients_agree(g.dc0, numeric(c0))) << "dc0";
    }
  }
  const auto specs = rnn_param_specs(config_of(c));
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(reference::gradients_agree(g.dparams[i], numeric(params[i]))) << specs[i].name;
  }
}

std::vector<RnnCase> gradient_cases() {
  using M = RnnMode;
  return {
      {"lstm_peep", M::lstm, 3, 4, 2, true, true, 4, 2, {4, 2}, 0.0f, true},
      {"lstm_dropout", M::lstm, 2, 3, 2, true, false, 3, 2, {3, 1}, 0.5f, true},
      {"gru", M::gru, 3, 4, 2, true, false, 4, 2, {2, 4}, 0.0f, true},
      {"rnn_tanh", M::rnn_tanh, 3, 4, 2, true, false, 4, 2, {3, 4}, 0.0f, true},
      {"rnn_relu", M::rnn_relu, 3, 4, 2, true, false, 4, 2, {4, 1}, 0.0f, true},
  };
}

INSTANTIATE_TEST_SUITE_P(Modes, RnnGradientCheck, testing::ValuesIn(gradient_cases()),
                         [](const testing::TestParamInfo<RnnCase>& info) { return info.param.name; });

// ---- a padded batch against its sequences run one by one --------------------------------

// Times [from, to) of batch column b of a [T, B, width] array.
std::vector<float> rows_of(const std::vector<float>& all, int batch, int b, int from, int to,
                           int width) {
  std::vector<float> out;
  for (int t = from; t < to; ++t) {
    const auto first = all.begin() + (static_cast<std::size_t>(t) * batch + b) * width;
    out.insert(out.end(), first, first + width);
  }
  return out;
}

// Batch column b of every [L*D, B, H] state.
std::vector<float> state_column(const std::vector<float>& all, int cells, int batch, int b,
                                int hidden) {
  if (all.empty()) return {};
  std::vector<float> out;
  for (int cell = 0; cell < cells; ++cell) {
    const auto first = all.begin() + (static_cast<std::size_t>(cell) * batch + b) * hidden;
    out.insert(out.end(), first, first + hidden);
  }
  return out;
}

using PaddedParam = std::tuple<Device, RnnCase>;

std::string device_case_name(const testing::TestParamInfo<PaddedParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}
class RnnPaddedBatchTest : public testing::TestWithParam<PaddedParam> {};

// Each sequence alone (T = its length, no lengths vector) must give the padded batch's
// outputs, final states and input/state gradients, and the batch's weight gradients are the
// sums of the single runs'. Only float rounding differs (other GEMM shapes): outputs within
// 1e-5, gradients (sums over up to T*B rows) within 1e-4.
TEST_P(RnnPaddedBatchTest, PaddedBatchEqualsSequencesRunOneByOne) {
  const auto& [device, c] = GetParam();
  const Inputs in = random_inputs(c, 400);
  const Results batch = run_on(device, c, in);
  const int D = c.bidirectional ? 2 : 1, cells = c.layers * D, F = c.input, DH = D * c.hidden;
  std::vector<std::vector<double>> grad_sums;
  for (const auto& g : batch.grads) grad_sums.emplace_back(g.size(), 0.0);
  for (int b = 0; b < c.batch; ++b) {
    const int len = c.lengths[b];
    RnnCase one = c;
    one.steps = len;
    one.batch = 1;
    one.lengths.clear();
    Inputs single{in.params, rows_of(in.x, c.batch, b, 0, len, F), {},
                  state_column(in.h0, cells, c.batch, b, c.hidden),
                  state_column(in.c0, cells, c.batch, b, c.hidden),
                  rows_of(in.dy, c.batch, b, 0, len, DH),
                  state_column(in.dhn, cells, c.batch, b, c.hidden),
                  state_column(in.dcn, cells, c.batch, b, c.hidden)};
    const Results r = run_on(device, one, single);
    const std::string which = "sequence " + std::to_string(b);
    EXPECT_TRUE(all_close(rows_of(batch.y, c.batch, b, 0, len, DH), r.y, 1e-5, 1e-5)) << which;
    const std::vector<float> pad_y = rows_of(batch.y, c.batch, b, len, c.steps, DH);
    EXPECT_TRUE(all_close(pad_y, std::vector<float>(pad_y.size(), 0.0f), 0, 0)) << which;
    EXPECT_TRUE(all_close(state_column(batch.hn, cells, c.batch, b, c.hidden), r.hn, 1e-5, 1e-5));
    EXPECT_TRUE(all_close(state_column(batch.cn, cells, c.batch, b, c.hidden), r.cn, 1e-5, 1e-5));
    EXPECT_TRUE(all_close(rows_of(batch.dx, c.batch, b, 0, len, F), r.dx, 1e-4, 1e-4)) << which;
    const std::vector<float> pad_dx = rows_of(batch.dx, c.batch, b, len, c.steps, F);
    EXPECT_TRUE(all_close(pad_dx, std::vector<float>(pad_dx.size(), 0.0f), 0, 0)) << which;
    EXPECT_TRUE(all_close(state_column(batch.dh0, cells, c.batch, b, c.hidden), r.dh0, 1e-4, 1e-4));
    EXPECT_TRUE(all_close(state_column(batch.dc0, cells, c.batch, b, c.hidden), r.dc0, 1e-4, 1e-4));
    for (std::size_t i = 0; i < grad_sums.size(); ++i) {
      for (std::size_t e = 0; e < grad_sums[i].size(); ++e) grad_sums[i][e] += r.grads[i][e];
    }
  }
  const auto specs = rnn_param_specs(config_of(c));
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_TRUE(all_close(batch.grads[i], grad_sums[i], 1e-4, 1e-4)) << specs[i].name;
  }
}

std::vector<RnnCase> padded_cases() {
  using M = RnnMode;
  return {
      {"lstm_peep_2layers_bidir", M::lstm, 3, 5, 2, true, true, 5, 3, {5, 2, 3}, 0.0f, true},
      {"gru_bidir", M::gru, 4, 6, 1, true, false, 4, 3, {1, 4, 2}, 0.0f, true},
      {"rnn_tanh_2layers_bidir", M::rnn_tanh, 3, 5, 2, true, false, 4, 2, {3, 1}, 0.0f, true},
  };
}

INSTANTIATE_TEST_SUITE_P(Devices, RnnPaddedBatchTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(padded_cases())),
                         device_case_name);

// ---- truncated BPTT -----------------------------------------------------------------------

class RnnChunkTest : public testing::TestWithParam<PaddedParam> {};

// Running T steps as two chunks, the second starting from the first's (hn, cn), gives the
// forward of one run (float rounding only: 1e-5).
TEST_P(RnnChunkTest, TwoChunksCarryingStatesEqualOneRun) {
  const auto& [device, c] = GetParam();
  const Inputs in = random_inputs(c, 500);
  const Results whole = run_on(device, c, in, false);
  const int first = c.steps / 2, F = c.input;
  RnnCase head = c, tail = c;
  head.steps = first;
  tail.steps = c.steps - first;
  Inputs a = in, b = in;
  a.x = rows_of(in.x, 1, 0, 0, first, c.batch * F);
  b.x = rows_of(in.x, 1, 0, first, c.steps, c.batch * F);
  const Results ra = run_on(device, head, a, false);
  b.h0 = ra.hn;
  b.c0 = ra.cn;
  const Results rb = run_on(device, tail, b, false);
  std::vector<float> y = ra.y;
  y.insert(y.end(), rb.y.begin(), rb.y.end());
  EXPECT_TRUE(all_close(y, whole.y, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(rb.hn, whole.hn, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(rb.cn, whole.cn, 1e-5, 1e-5));
}

std::vector<RnnCase> chunk_cases() {
  using M = RnnMode;
  return {
      {"lstm_peep_2layers", M::lstm, 3, 5, 2, false, true, 6, 2, {}, 0.0f, true},
      {"gru_2layers", M::gru, 3, 5, 2, false, false, 5, 2, {}, 0.0f, true},
  };
}

INSTANTIATE_TEST_SUITE_P(Devices, RnnChunkTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(chunk_cases())),
                         device_case_name);

// ---- errors ---------------------------------------------------------------------------------

#define EXPECT_ERROR_MENTIONS(call, text)                                         \
  do {                                                                            \
    const std::string what = error_of([&] { call; });                             \
    EXPECT_NE(what.find(text), std::string::npos) << "error was: " << what;       \
  } while (0)

// A small valid lstm call whose pieces the error tests spoil one at a time.
struct ErrorFixture {
  RnnConfig config;
  Device device;
  std::vector<Tensor> params;
  std::vector<const Tensor*> ptrs;
  Tensor x, y, lengths;

  explicit ErrorFixture(Device where = Device::cpu(), RnnMode mode = RnnMode::lstm) : device(where) {
    config.mode = mode;
    config.input_size = 3;
    config.hidden_size = 4;
    for (const RnnParamSpec& spec : rnn_param_specs(config)) params.push_back(Tensor::zeros(spec.shape, device));
    for (const Tensor& p : params) ptrs.push_back(&p);
    x = Tensor::zeros({5, 2, 3}, device);
    y = Tensor::zeros({5, 2, 4}, device);
    lengths = Tensor::from_vector({5, 3}, {2}, device);
  }
  void forward(Engine engine = Engine::native) {
    ops::rnn_forward(config, ptrs, x, &lengths, nullptr, nullptr, y, nullptr, nullptr, nullptr,
                     {}, engine);
  }
};

TEST(RnnErrors, NamesTheArgumentAtFault) {
  ErrorFixture f;
  EXPECT_ERROR_MENTIONS(f.forward(), "(no error)");
  {
    ErrorFixture g;
    g.x = Tensor::zeros({5, 2, 4}, g.device);
    EXPECT_ERROR_MENTIONS(g.forward(), "x is [5, 2, 4]");
  }
  {
    ErrorFixture g;
    g.y = Tensor::zeros({5, 2, 8}, g.device);
    EXPECT_ERROR_MENTIONS(g.forward(), "'y' is [5, 2, 8]");
  }
  {
    ErrorFixture g;
    g.params[1] = Tensor::zeros({16, 5}, g.device);
    EXPECT_ERROR_MENTIONS(g.forward(), "'weight_hh_l0' is [16, 5], expected [16, 4]");
  }
  {
    ErrorFixture g;
    g.ptrs.pop_back();
    EXPECT_ERROR_MENTIONS(g.forward(), "3 parameters given");
  }
  {
    ErrorFixture g;
    g.config.peepholes = true;
    g.config.mode = RnnMode::gru;
    EXPECT_ERROR_MENTIONS(g.forward(), "peepholes are an lstm feature");
  }
  {
    ErrorFixture g;
    g.lengths = Tensor::from_vector({5, 3, 1}, {3}, g.device);
    EXPECT_ERROR_MENTIONS(g.forward(), "'lengths' is [3], expected [2]");
  }
  {
    ErrorFixture g;
    g.lengths = Tensor::from_vector({6, 3}, {2}, g.device);
    EXPECT_ERROR_MENTIONS(g.forward(), "lengths[0] = 6");
  }
  {
    ErrorFixture g;
    g.lengths = Tensor::from_vector({2.5f, 3}, {2}, g.device);
    EXPECT_ERROR_MENTIONS(g.forward(), "lengths[0] = 2.5");
  }
  {
    ErrorFixture g;
    g.config.dropout = 1.0f;
    EXPECT_ERROR_MENTIONS(g.forward(), "dropout p = 1");
  }
}

TEST(RnnErrors, CellStateOnlyForLstm) {
  ErrorFixture g(Device::cpu(), RnnMode::gru);
  const Tensor c0 = Tensor::zeros({1, 2, 4}, g.device);
  EXPECT_ERROR_MENTIONS(ops::rnn_forward(g.config, g.ptrs, g.x, nullptr, nullptr, &c0, g.y,
                                         nullptr, nullptr, nullptr),
                        "'c0' given, but gru has no cell state");
}

TEST(RnnErrors, CudnnEngineOnlyOnCuda) {
  for (const Device& device : {Device::cpu(), Device::simt()}) {
    ErrorFixture g(device);
    EXPECT_ERROR_MENTIONS(g.forward(Engine::cudnn), "rnn: engine cudnn runs only on a cuda device");
  }
}

TEST(RnnErrors, BackwardNeedsTheTrainingReserve) {
  ErrorFixture g;
  std::vector<Tensor> grads;
  std::vector<Tensor*> grad_ptrs;
  for (const Tensor* p : g.ptrs) grads.push_back(Tensor::zeros(p->shape(), g.device));
  for (Tensor& t : grads) grad_ptrs.push_back(&t);
  const RnnReserve empty;
  EXPECT_ERROR_MENTIONS(ops::rnn_backward(g.config, g.ptrs, g.x, &g.lengths, nullptr, nullptr, g.y,
                                          g.y, nullptr, nullptr, empty, nullptr, nullptr,
                                          nullptr, grad_ptrs),
                        "pass the reserve of a training rnn_forward");
}

TEST(RnnParamSpecs, PyTorchNamesAndShapes) {
  RnnConfig config;
  config.mode = RnnMode::gru;
  config.input_size = 3;
  config.hidden_size = 4;
  config.num_layers = 2;
  config.bidirectional = true;
  const std::vector<RnnParamSpec> specs = rnn_param_specs(config);
  ASSERT_EQ(specs.size(), 16u);
  EXPECT_EQ(specs[0].name, "weight_ih_l0");
  EXPECT_EQ(specs[0].shape, Shape({12, 3}));
  EXPECT_EQ(specs[5].name, "weight_hh_l0_reverse");
  EXPECT_EQ(specs[5].shape, Shape({12, 4}));
  EXPECT_EQ(specs[8].name, "weight_ih_l1");
  EXPECT_EQ(specs[8].shape, Shape({12, 8}));
  EXPECT_EQ(specs[15].name, "bias_hh_l1_reverse");
  config.mode = RnnMode::lstm;
  config.peepholes = true;
  const std::vector<RnnParamSpec> peep = rnn_param_specs(config);
  ASSERT_EQ(peep.size(), 20u);
  EXPECT_EQ(peep[4].name, "weight_ch_l0");
  EXPECT_EQ(peep[4].shape, Shape({12}));
  EXPECT_EQ(rnn_gate_count(RnnMode::rnn_relu), 1);
  EXPECT_STREQ(rnn_mode_name(RnnMode::rnn_tanh), "rnn_tanh");
}

}  // namespace
}  // namespace kiln
