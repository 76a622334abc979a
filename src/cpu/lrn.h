// CPU backend of cross-channel LRN (formulas in kernels/lrn.cu and docs/OPS.md).
#pragma once

#include <cstdint>

#include "kiln/ops/lrn.h"

namespace kiln::cpu {
// x, y, scale [n, c, plane] with plane = h * w.
void lrn_forward(const float* x, float* y, float* scale, int n, int c, int64_t plane,
                 const LrnParams& p);
void lrn_backward(const float* x, const float* y, const float* scale, const float* dy, float* dx,
                  int n, int c, int64_t plane, const LrnParams& p);
}  // namespace kiln::cpu
