// CPU backend of conv2d: batched im2col + one OpenBLAS sgemm per group and chunk of
// samples, OpenMP over the batch (threading policy: src/cpu/blas.h). Layouts and semantics as in include/kiln/ops/conv2d.h.
#pragma once

#include "kiln/ops/conv2d.h"

namespace kiln::cpu {
// bias may be null.
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y);
// col2im of W^T dy per sample.
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx);
// Deterministic: the batch is cut into chunks by shape alone (independent of the
// thread count), each summed in order, then the chunks are summed in order.
void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw);
void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db);
}  // namespace kiln::cpu
