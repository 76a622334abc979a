// Launchers of kernels/lrn.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/ops/lrn.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// x, y, scale [n, c, plane] with plane = h * w.
void lrn_forward(const float* x, float* y, float* scale, int n, int c, int64_t plane,
                 const LrnParams& p, rt::Stream stream);
void lrn_backward(const float* x, const float* y, const float* scale, const float* dy, float* dx,
                  int n, int c, int64_t plane, const LrnParams& p, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
