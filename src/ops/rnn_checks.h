// Argument checks of the recurrent op (src/ops/rnn.cpp): every message names the op, the
// tensor or parameter at fault, its shape and the one expected.
#pragma once

#include <cstddef>
#include <vector>

#include "kiln/ops/rnn.h"

namespace kiln::ops::rnn {

// Every size of one call, validated.
struct Dims {
  RnnMode mode;
  int T, B, F, H, L, D, G;
  bool peepholes;
  int in(int layer) const { return layer == 0 ? F : H * D; }
};

Dims check_forward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                   const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                   const Tensor& y, const Tensor* hn, const Tensor* cn);

Dims check_backward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                    const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                    const Tensor& y, const Tensor& dy, const Tensor* dhn, const Tensor* dcn,
                    const Tensor* dx, const Tensor* dh0, const Tensor* dc0,
                    const std::vector<Tensor*>& grads);

// The native reserve holds, per layer, 1 + 3 * directions tensors (see src/ops/rnn.cpp).
void check_reserve(const Dims& s, const std::vector<Tensor>& saved, const Shape& activations,
                   const Shape& states, const Device& device);

}  // namespace kiln::ops::rnn
