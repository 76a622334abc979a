// Launchers of kernels/pool2d.cu (no include guard: see kernels/elementwise.h).
#include "kiln/ops/pool2d.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// x [n, c, h, w] -> y [n, c, oh, ow]; mode 0 max, 1 avg (kiln::PoolMode's order).
void pool2d_forward(int mode, const float* x, float* y, int n, int c, int h, int w, int oh,
                    int ow, const Pool2dParams& p, rt::Stream stream);
// dx overwritten. y is read only by max (to skip non-winners cheaply).
void pool2d_backward(int mode, const float* x, const float* y, const float* dy, float* dx, int n,
                     int c, int h, int w, int oh, int ow, const Pool2dParams& p,
                     rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
