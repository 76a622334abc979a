// Direct CPU convolution: register-blocked over filters and output vectors, no im2col
// buffer and no GEMM call. Faster than im2col + sgemm where the GEMM would be thin
// (few filters or a short C/G*R*S reduction: LeNet-5's layers); the rule that picks it
// is cpu::conv2d_direct_pays. Same layouts and semantics as include/kiln/ops/conv2d.h;
// every pass handles any stride, padding, dilation and groups.
#pragma once

#include "kiln/ops/conv2d.h"

namespace kiln::cpu {

enum class ConvPass { forward, backward_data, backward_filter };

// ConvKernel::automatic's rule on cpu (docs/KERNELS.md): the direct version for
// layers whose GEMM would be thin, im2col + sgemm otherwise.
bool conv2d_direct_pays(const Conv2dGeometry& g, ConvPass pass);

// bias may be null.
void conv2d_forward_direct(const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y);
// A direct forward convolution of dy (zero-inserted between rows/columns for strides)
// with the flipped filters.
void conv2d_backward_data_direct(const Conv2dGeometry& g, const float* dy, const float* w,
                                 float* dx);
// Deterministic: the batch is chunked by shape alone, as in the im2col version.
void conv2d_backward_filter_direct(const Conv2dGeometry& g, const float* x, const float* dy,
                                   float* dw);

}  // namespace kiln::cpu
