// Inverted dropout: y = x * keep / (1 - p), keep = u >= p with u the Philox uniform
// for (seed, offset, element index). The mask is recomputed in backward rather than
// stored, and it is the same on every device for the same seed and offset.
#pragma once

#include <cstdint>

#include "kiln/tensor.h"

namespace kiln::ops {

void dropout_forward(const Tensor& x, Tensor& y, float p, uint64_t seed, uint64_t offset);
void dropout_backward(const Tensor& dy, Tensor& dx, float p, uint64_t seed, uint64_t offset);

}  // namespace kiln::ops
