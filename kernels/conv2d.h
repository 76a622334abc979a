// Launchers of kernels/conv2d.cu (no include guard: see kernels/elementwise.h).
// `kernel` picks the version (ConvKernel::automatic applies the rule documented in
// kernels/conv2d.cu and docs/KERNELS.md).
#include <cstdint>

#include "kiln/ops/conv2d.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// Each pass that can split its sum over several blocks (split-K, split bias sums) says
// how many floats of scratch memory it needs for `kernel` and `g` (0 when it does not
// split); the caller passes that many as `workspace`. Every pass is deterministic: the
// slices' partials are summed in a fixed order, no atomics.
int64_t conv2d_forward_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel);
// y = conv(x, w) (+ bias[k] when bias is not null).
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, float* workspace, ConvKernel kernel, rt::Stream stream);
int64_t conv2d_backward_data_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel);
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          float* workspace, ConvKernel kernel, rt::Stream stream);
int64_t conv2d_backward_filter_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel);
void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* workspace, ConvKernel kernel, rt::Stream stream);
// Reads only g.n, g.k, g.p and g.q.
int64_t conv2d_backward_bias_workspace_floats(const Conv2dGeometry& g);
// db[k] = sum over n, p, q of dy[n, k, p, q].
void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db, float* workspace,
                          rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
