#include "ops/rnn_checks.h"

#include <cmath>
#include <string>

#include "kiln/error.h"
#include "ops/checks.h"

namespace kiln::ops::rnn {

namespace {

void check_config(const char* op, const RnnConfig& c) {
  KILN_CHECK(c.input_size >= 1 && c.hidden_size >= 1 && c.num_layers >= 1, op,
             ": input_size ", c.input_size, ", hidden_size ", c.hidden_size, ", num_layers ",
             c.num_layers, " must all be at least 1");
  KILN_CHECK(!c.peepholes || c.mode == RnnMode::lstm, op, ": peepholes are an lstm feature, not ",
             rnn_mode_name(c.mode), "'s; set peepholes = false or mode = lstm");
  KILN_CHECK(c.dropout >= 0.0f && c.dropout < 1.0f, op, ": dropout p = ", c.dropout,
             " is outside [0, 1); use 0 to disable it");
}

// `t` is on `device` and has `shape`; `name` says which argument it is.
void check_tensor(const char* op, const Tensor& t, const char* name, const Device& device,
                  const Shape& shape) {
  check_defined(op, t, name);
  KILN_CHECK(t.device() == device, op, ": '", name, "' is on ", t.device().str(), ", x on ",
             device.str());
  KILN_CHECK(t.shape() == shape, op, ": '", name, "' is ", shape_str(t.shape()), ", expected ",
             shape_str(shape));
}

template <class List>
void check_params(const char* op, const RnnConfig& c, const List& list, const char* what,
                  const Device& device) {
  const std::vector<RnnParamSpec> specs = rnn_param_specs(c);
  KILN_CHECK(list.size() == specs.size(), op, ": ", list.size(), " ", what, " given, the ",
             rnn_mode_name(c.mode), " configuration has ", specs.size(),
             " (see rnn_param_specs)");
  for (std::size_t i = 0; i < specs.size(); ++i) {
    KILN_CHECK(list[i] != nullptr, op, ": ", what, " '", specs[i].name, "' is null");
    check_tensor(op, *list[i], specs[i].name.c_str(), device, specs[i].shape);
  }
}

// The values must be whole numbers in 0..T (read on the host: one small copy per call).
void check_lengths(const char* op, const Tensor& lengths, const Device& device, int T, int B) {
  check_tensor(op, lengths, "lengths", device, {B});
  const std::vector<float> values = lengths.to_vector();
  for (int b = 0; b < B; ++b) {
    const float v = values[b];
    KILN_CHECK(v >= 0.0f && v <= static_cast<float>(T) && std::floor(v) == v, op, ": lengths[",
               b, "] = ", v, " is not a whole number of steps in 0..", T, " (x has T = ", T,
               ")");
  }
}

// A [L*D, B, H] state argument; cell states exist for lstm only.
void check_state(const char* op, const Tensor* t, const char* name, const Dims& s,
                 const Device& device, bool cell) {
  if (!t) return;
  KILN_CHECK(!cell || s.mode == RnnMode::lstm, op, ": '", name, "' given, but ",
             rnn_mode_name(s.mode), " has no cell state (only lstm has c); pass null");
  check_tensor(op, *t, name, device, {s.L * s.D, s.B, s.H});
}

Dims check_common(const char* op, const RnnConfig& c, const std::vector<const Tensor*>& params,
                  const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                  const Tensor& y) {
  check_config(op, c);
  check_defined(op, x, "x");
  KILN_CHECK(x.rank() == 3 && x.dim(0) >= 1 && x.dim(1) >= 1 && x.dim(2) == c.input_size, op,
             ": x is ", shape_str(x.shape()), ", expected [T, B, input_size = ", c.input_size,
             "] with T, B >= 1 (time-major)");
  const Device& device = x.device();
  const Dims s{c.mode, static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), c.input_size,
               c.hidden_size, c.num_layers, c.directions(), rnn_gate_count(c.mode), c.peepholes};
  check_params(op, c, params, "parameters", device);
  if (lengths) check_lengths(op, *lengths, device, s.T, s.B);
  check_state(op, h0, "h0", s, device, false);
  check_state(op, c0, "c0", s, device, true);
  check_tensor(op, y, "y", device, {s.T, s.B, s.D * s.H});
  return s;
}

}  // namespace

Dims check_forward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                   const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                   const Tensor& y, const Tensor* hn, const Tensor* cn) {
  const char* op = "rnn";
  const Dims s = check_common(op, config, params, x, lengths, h0, c0, y);
  check_state(op, hn, "hn", s, x.device(), false);
  check_state(op, cn, "cn", s, x.device(), true);
  return s;
}

Dims check_backward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                    const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                    const Tensor& y, const Tensor& dy, const Tensor* dhn, const Tensor* dcn,
                    const Tensor* dx, const Tensor* dh0, const Tensor* dc0,
                    const std::vector<Tensor*>& grads) {
  const char* op = "rnn backward";
  const Dims s = check_common(op, config, params, x, lengths, h0, c0, y);
  const Device& device = x.device();
  check_tensor(op, dy, "dy", device, y.shape());
  check_state(op, dhn, "dhn", s, device, false);
  check_state(op, dcn, "dcn", s, device, true);
  if (dx) check_tensor(op, *dx, "dx", device, x.shape());
  check_state(op, dh0, "dh0", s, device, false);
  check_state(op, dc0, "dc0", s, device, true);
  check_params(op, config, grads, "gradients", device);
  return s;
}

void check_reserve(const Dims& s, const std::vector<Tensor>& saved, const Shape& activations,
                   const Shape& states, const Device& device) {
  const char* op = "rnn backward";
  const std::size_t per_layer = 1 + 3 * static_cast<std::size_t>(s.D);
  KILN_CHECK(saved.size() == per_layer * s.L, op, ": the reserve holds ", saved.size(),
             " tensors, this configuration's forward saves ", per_layer * s.L,
             "; pass the reserve of a training rnn_forward (reserve not null) with the same "
             "configuration and inputs");
  for (const Tensor& t : saved) {
    KILN_CHECK(!t.defined() || t.device() == device, op, ": the reserve is on ",
               t.device().str(), ", x on ", device.str(), "; run backward where forward ran");
  }
  for (int k = 0; k < s.L; ++k) {
    const Tensor& input = saved[k * per_layer];
    KILN_CHECK(k == 0 || input.shape() == Shape({s.T, s.B, s.H * s.D}), op,
               ": the reserve's input of layer ", k, " is ", shape_str(input.shape()),
               "; it does not come from this configuration's forward");
    for (int d = 0; d < s.D; ++d) {
      const std::size_t slot = k * per_layer + 1 + 3 * d;
      const bool lstm = s.mode == RnnMode::lstm;
      KILN_CHECK(saved[slot].shape() == activations && saved[slot + 1].shape() == states &&
                     (!lstm || saved[slot + 2].shape() == states),
                 op, ": the reserve of layer ", k, " direction ", d, " holds activations ",
                 shape_str(saved[slot].shape()), " and states ", shape_str(saved[slot + 1].shape()),
                 ", expected ", shape_str(activations), " and ", shape_str(states),
                 "; it does not come from this configuration's forward");
    }
  }
}

}  // namespace kiln::ops::rnn
