// Launchers of kernels/conv2d.cu (no include guard: see kernels/elementwise.h).
// `kernel` picks the version (ConvKernel::automatic applies the rule documented in
// kernels/conv2d.cu and docs/KERNELS.md).
#include <cstdint>

#include "kiln/ops/conv2d.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// y = conv(x, w) (+ bias[k] when bias is not null).
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, ConvKernel kernel, rt::Stream stream);
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          ConvKernel kernel, rt::Stream stream);
// Floats of scratch memory conv2d_backward_filter needs for `kernel` (0 when none).
int64_t conv2d_backward_filter_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel);
// Deterministic (no atomics). `workspace` holds the floats asked for above.
void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* workspace, ConvKernel kernel, rt::Stream stream);
// db[k] = sum over n, p, q of dy[n, k, p, q]; deterministic.
void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db,
                          rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
