// Element-wise ops on float tensors of any shape. Outputs are preallocated by the
// caller (same shape and device as the inputs); in-place use is allowed where an
// output aliases an input of the same shape.
#pragma once

#include <cstdint>

#include "kiln/tensor.h"

namespace kiln::ops {

void fill(Tensor& y, float value);
void scale(Tensor& y, float alpha);                           // y *= alpha
void axpy(float alpha, const Tensor& x, Tensor& y);           // y += alpha * x
void add(const Tensor& a, const Tensor& b, Tensor& out);      // out = a + b
void mul(const Tensor& a, const Tensor& b, Tensor& out);      // out = a * b
// y[i] = lo + (hi - lo) * u(seed, offset, i), u from Philox4x32-10 (kiln/philox.h):
// the same numbers on every device.
void uniform(Tensor& y, uint64_t seed, uint64_t offset, float lo = 0.0f, float hi = 1.0f);

}  // namespace kiln::ops
