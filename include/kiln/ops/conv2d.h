// 2-D convolution (cross-correlation, as in every DL framework), NCHW.
//   x [N, C, H, W], w [K, C/groups, R, S], bias [K], y [N, K, P, Q]
//   P = (H + pad_top + pad_bottom - dilation_h*(R-1) - 1) / stride_h + 1 (likewise Q).
// Gradients overwrite their outputs (dx, dw, db); callers that accumulate add.
#pragma once

#include <string>

#include "kiln/ops/engine.h"
#include "kiln/tensor.h"

namespace kiln {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;

  // "same" padding for stride 1 (the extra pixel of an even kernel goes bottom/right),
  // "valid" = no padding.
  static Conv2dParams same(int kernel_h, int kernel_w, int dilation_h = 1, int dilation_w = 1);
};

// Which native version runs, on every device. automatic applies the documented rule
// (docs/KERNELS.md); the others force a version so tests exercise each. On cpu,
// implicit_gemm is the GEMM formulation (im2col + sgemm).
enum class ConvKernel { automatic, direct, implicit_gemm };

struct ConvOptions {
  Engine engine = Engine::native;
  ConvKernel kernel = ConvKernel::automatic;
  bool deterministic = false;  // cudnn: restrict to deterministic algorithms
};

// Every size of one convolution, resolved and validated (plain ints so kernels take
// it by value). c and k are totals; a group sees c/groups inputs and k/groups outputs.
struct Conv2dGeometry {
  int n, c, h, w;  // input x [n, c, h, w]
  int k, r, s;     // filters w [k, c/groups, r, s]
  int p, q;        // output y [n, k, p, q]
  int stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w;
  int groups;
};

// Throws a kiln::Error naming both shapes (and the parameter at fault) when x and w
// cannot be convolved with `p`.
Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& w, const Conv2dParams& p);

// Output shape; throws a kiln::Error naming both shapes when they do not fit.
Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dParams& p);

namespace ops {
// bias may be null.
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, const ConvOptions& options = {});
void conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p,
                          const ConvOptions& options = {});
void conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw,
                            const Conv2dParams& p, const ConvOptions& options = {});
void conv2d_backward_bias(const Tensor& dy, Tensor& db, const ConvOptions& options = {});
}  // namespace ops

}  // namespace kiln
