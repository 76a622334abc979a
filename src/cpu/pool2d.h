// CPU backend of 2-D max/avg pooling (same conventions as kernels/pool2d.cu).
#pragma once

#include "kiln/ops/pool2d.h"

namespace kiln::cpu {
// x [n, c, h, w] -> y [n, c, oh, ow]; mode 0 max, 1 avg.
void pool2d_forward(int mode, const float* x, float* y, int n, int c, int h, int w, int oh,
                    int ow, const Pool2dParams& p);
// dx is overwritten; y is pool2d_forward's output for x (max finds its winners by it).
void pool2d_backward(int mode, const float* x, const float* y, const float* dy, float* dx, int n,
                     int c, int h, int w, int oh, int ow, const Pool2dParams& p);
}  // namespace kiln::cpu
