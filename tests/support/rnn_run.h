// One forward and backward of the recurrent op with every input drawn from fixed seeds and
// every output kept, for suites that compare it with another implementation on the same
// inputs: engine cudnn (tests/ops/rnn_cudnn_test.cpp) and libtorch (tests/torch).
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kiln/ops/rnn.h"
#include "support/op_test.h"

namespace kiln::test {

struct RnnRunCase {
  std::string name;
  RnnConfig config;
  int steps, batch;
  std::vector<float> lengths;  // empty: every sequence has all `steps`
  bool states;                 // pass h0/c0 and dhn/dcn
};

inline RnnConfig rnn_config(RnnMode mode, int input, int hidden, int layers, bool bidirectional) {
  RnnConfig c;
  c.mode = mode;
  c.input_size = input;
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.bidirectional = bidirectional;
  return c;
}

struct RnnOutput {
  std::string name;
  std::vector<float> values;
  bool gradient;
};

// Every tensor of one forward + backward on `device`; weights uniform in +-1/sqrt(H)
// (PyTorch's default initialisation), inputs and output gradients in [-1, 1).
struct RnnRun {
  RnnRun(const RnnRunCase& c, const Device& device) : config(c.config) {
    const int64_t T = c.steps, B = c.batch, D = config.directions(), H = config.hidden_size;
    const Shape states{config.num_layers * D, B, H};
    const bool lstm = config.mode == RnnMode::lstm;
    const float k = 1.0f / std::sqrt(static_cast<float>(H));
    uint64_t seed = 40;
    for (const RnnParamSpec& spec : rnn_param_specs(config)) {
      params.push_back(random_tensor(spec.shape, device, seed++, -k, k));
      grads.push_back(Tensor::zeros(spec.shape, device));
    }
    x = random_tensor({T, B, config.input_size}, device, seed++);
    dy = random_tensor({T, B, D * H}, device, seed++);
    if (!c.lengths.empty()) lengths = Tensor::from_vector(c.lengths, {B}, device);
    if (c.states) {
      h0 = random_tensor(states, device, seed++);
      dhn = random_tensor(states, device, seed++);
      if (lstm) c0 = random_tensor(states, device, seed++);
      if (lstm) dcn = random_tensor(states, device, seed++);
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
  std::vector<RnnOutput> outputs() const {
    std::vector<RnnOutput> out = {{"y", y.to_vector(), false},
                                  {"hn", hn.to_vector(), false},
                                  {"dx", dx.to_vector(), true},
                                  {"dh0", dh0.to_vector(), true}};
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

}  // namespace kiln::test
