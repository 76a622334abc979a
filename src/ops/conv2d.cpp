#include "kiln/ops/conv2d.h"

#include <algorithm>
#include <climits>

#include "cpu/conv2d.h"
#include "ops/checks.h"
#include "ops/kernels.h"
#if KILN_HAVE_CUDA
#include "cudnn/conv2d.h"
#endif

namespace kiln {

Conv2dParams Conv2dParams::same(int kernel_h, int kernel_w, int dilation_h, int dilation_w) {
  KILN_CHECK(kernel_h >= 1 && kernel_w >= 1 && dilation_h >= 1 && dilation_w >= 1,
             "Conv2dParams::same: kernel ", kernel_h, "x", kernel_w, " and dilation ",
             dilation_h, "x", dilation_w, " must be positive");
  Conv2dParams p;
  const int pad_h = dilation_h * (kernel_h - 1), pad_w = dilation_w * (kernel_w - 1);
  p.pad_top = pad_h / 2;
  p.pad_bottom = pad_h - p.pad_top;
  p.pad_left = pad_w / 2;
  p.pad_right = pad_w - p.pad_left;
  p.dilation_h = dilation_h;
  p.dilation_w = dilation_w;
  return p;
}

Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& w, const Conv2dParams& p) {
  const std::string shapes =
      detail::concat("x ", shape_str(x), " and weights ", shape_str(w), ": ");
  KILN_CHECK(x.size() == 4 && w.size() == 4, "conv2d: ", shapes,
             "expected x [N, C, H, W] and weights [K, C/groups, R, S]");
  KILN_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 &&
                 p.groups >= 1,
             "conv2d: ", shapes, "stride ", p.stride_h, "x", p.stride_w, ", dilation ",
             p.dilation_h, "x", p.dilation_w, " and groups ", p.groups, " must be positive");
  KILN_CHECK(p.pad_top >= 0 && p.pad_bottom >= 0 && p.pad_left >= 0 && p.pad_right >= 0,
             "conv2d: ", shapes, "padding must not be negative (top ", p.pad_top, ", bottom ",
             p.pad_bottom, ", left ", p.pad_left, ", right ", p.pad_right, ")");
  for (int64_t d : x) KILN_CHECK(d >= 0 && d <= INT_MAX, "conv2d: ", shapes, "bad dimension");
  for (int64_t d : w) KILN_CHECK(d >= 1 && d <= INT_MAX, "conv2d: ", shapes, "bad dimension");
  Conv2dGeometry g{};
  g.n = static_cast<int>(x[0]);
  g.c = static_cast<int>(x[1]);
  g.h = static_cast<int>(x[2]);
  g.w = static_cast<int>(x[3]);
  g.k = static_cast<int>(w[0]);
  g.r = static_cast<int>(w[2]);
  g.s = static_cast<int>(w[3]);
  g.stride_h = p.stride_h;
  g.stride_w = p.stride_w;
  g.pad_top = p.pad_top;
  g.pad_bottom = p.pad_bottom;
  g.pad_left = p.pad_left;
  g.pad_right = p.pad_right;
  g.dilation_h = p.dilation_h;
  g.dilation_w = p.dilation_w;
  g.groups = p.groups;
  KILN_CHECK(g.c % g.groups == 0 && g.k % g.groups == 0, "conv2d: ", shapes,
             "input channels ", g.c, " and filters ", g.k, " must both divide by groups ",
             g.groups);
  KILN_CHECK(w[1] == g.c / g.groups, "conv2d: ", shapes, "weights have ", w[1],
             " input channels per filter but x has ", g.c, " channels in ", g.groups,
             " group(s), i.e. ", g.c / g.groups, " per filter");
  const int64_t span_h = static_cast<int64_t>(g.dilation_h) * (g.r - 1) + 1;
  const int64_t span_w = static_cast<int64_t>(g.dilation_w) * (g.s - 1) + 1;
  const int64_t padded_h = static_cast<int64_t>(g.h) + g.pad_top + g.pad_bottom;
  const int64_t padded_w = static_cast<int64_t>(g.w) + g.pad_left + g.pad_right;
  KILN_CHECK(span_h <= padded_h && span_w <= padded_w, "conv2d: ", shapes, "the kernel spans ",
             span_h, "x", span_w, " pixels (dilation included) but the padded input is only ",
             padded_h, "x", padded_w);
  g.p = static_cast<int>((padded_h - span_h) / g.stride_h + 1);
  g.q = static_cast<int>((padded_w - span_w) / g.stride_w + 1);
  // The kernels index pixels of the whole batch with int.
  const int64_t largest = std::max(static_cast<int64_t>(g.n) * g.h * g.w,
                                   static_cast<int64_t>(g.n) * g.p * g.q);
  KILN_CHECK(largest <= INT_MAX, "conv2d: ", shapes,
             "batch too large for 32-bit pixel indices; split the batch");
  return g;
}

Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  const Conv2dGeometry g = conv2d_geometry(x, w, p);
  return {g.n, g.k, g.p, g.q};
}

namespace ops {

namespace {

void check_output(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  KILN_CHECK(t.shape() == expected, op, ": ", name, " has shape ", shape_str(t.shape()),
             " but the convolution needs ", shape_str(expected));
}

// Scratch memory for a kernel launcher's split sums (none when floats is 0). Both kernel
// builds size it by the same rule, so the simt build's *_workspace_floats serve cuda too.
Tensor workspace_of(int64_t floats, const Device& device) {
  return floats > 0 ? Tensor({floats}, device) : Tensor();
}

void check_cudnn_padding(const char* op, const Conv2dGeometry& g) {
  KILN_CHECK(g.pad_top == g.pad_bottom && g.pad_left == g.pad_right, op,
             ": engine cudnn supports only symmetric padding (cuDNN's convolution descriptor "
             "takes one pad per dimension), got top ", g.pad_top, ", bottom ", g.pad_bottom,
             ", left ", g.pad_left, ", right ", g.pad_right,
             "; use engine native or pad the input explicitly");
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, const ConvOptions& options) {
  constexpr const char* op = "conv2d_forward";
  check_defined(op, x, "x");
  check_defined(op, w, "w");
  check_same_device(op, x, w);
  check_same_device(op, x, y);
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  check_output(op, "y", y, {g.n, g.k, g.p, g.q});
  if (bias) {
    check_same_device(op, x, *bias);
    KILN_CHECK(bias->shape() == Shape{g.k}, op, ": bias has shape ", shape_str(bias->shape()),
               " but weights ", shape_str(w.shape()), " need [", g.k, "]");
  }
  const float* b = bias ? bias->data() : nullptr;
  const Device& device = x.device();
  check_engine(op, options.engine, device);
  if (options.engine == Engine::cudnn) {
    check_cudnn_padding(op, g);
#if KILN_HAVE_CUDA
    return cudnn::conv2d_forward(device.index, g, x.data(), w.data(), b, y.data(),
                                 options.deterministic);
#endif
  }
  if (device.is_cpu()) {
    return cpu::conv2d_forward(g, x.data(), w.data(), b, y.data(), options.kernel);
  }
  Tensor workspace = workspace_of(
      simt_kernels::conv2d_forward_workspace_floats(g, options.kernel), device);
  KILN_KERNEL(device, conv2d_forward, g, x.data(), w.data(), b, y.data(), workspace.data(),
              options.kernel);
}

void conv2d_backward_data(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p,
                          const ConvOptions& options) {
  constexpr const char* op = "conv2d_backward_data";
  check_defined(op, dy, "dy");
  check_defined(op, w, "w");
  check_same_device(op, dy, w);
  check_same_device(op, dy, dx);
  const Conv2dGeometry g = conv2d_geometry(dx.shape(), w.shape(), p);
  check_output(op, "dy", dy, {g.n, g.k, g.p, g.q});
  const Device& device = dy.device();
  check_engine(op, options.engine, device);
  if (options.engine == Engine::cudnn) {
    check_cudnn_padding(op, g);
#if KILN_HAVE_CUDA
    return cudnn::conv2d_backward_data(device.index, g, dy.data(), w.data(), dx.data(),
                                       options.deterministic);
#endif
  }
  if (device.is_cpu()) {
    return cpu::conv2d_backward_data(g, dy.data(), w.data(), dx.data(), options.kernel);
  }
  Tensor workspace = workspace_of(
      simt_kernels::conv2d_backward_data_workspace_floats(g, options.kernel), device);
  KILN_KERNEL(device, conv2d_backward_data, g, dy.data(), w.data(), dx.data(), workspace.data(),
              options.kernel);
}

void conv2d_backward_filter(const Tensor& x, const Tensor& dy, Tensor& dw,
                            const Conv2dParams& p, const ConvOptions& options) {
  constexpr const char* op = "conv2d_backward_filter";
  check_defined(op, x, "x");
  check_defined(op, dy, "dy");
  check_same_device(op, x, dy);
  check_same_device(op, x, dw);
  const Conv2dGeometry g = conv2d_geometry(x.shape(), dw.shape(), p);
  check_output(op, "dy", dy, {g.n, g.k, g.p, g.q});
  const Device& device = x.device();
  check_engine(op, options.engine, device);
  if (options.engine == Engine::cudnn) {
    check_cudnn_padding(op, g);
#if KILN_HAVE_CUDA
    return cudnn::conv2d_backward_filter(device.index, g, x.data(), dy.data(), dw.data(),
                                         options.deterministic);
#endif
  }
  if (device.is_cpu()) {
    return cpu::conv2d_backward_filter(g, x.data(), dy.data(), dw.data(), options.kernel);
  }
  Tensor workspace = workspace_of(
      simt_kernels::conv2d_backward_filter_workspace_floats(g, options.kernel), device);
  KILN_KERNEL(device, conv2d_backward_filter, g, x.data(), dy.data(), dw.data(),
              workspace.data(), options.kernel);
}

void conv2d_backward_bias(const Tensor& dy, Tensor& db, const ConvOptions& options) {
  constexpr const char* op = "conv2d_backward_bias";
  check_defined(op, dy, "dy");
  check_same_device(op, dy, db);
  KILN_CHECK(dy.rank() == 4 && db.shape() == Shape{dy.dim(1)}, op, ": dy ",
             shape_str(dy.shape()), " [N, K, P, Q] and db ", shape_str(db.shape()),
             " [K] do not fit");
  // Only n, k, p, q matter to the bias gradient.
  Conv2dGeometry g{};
  g.n = static_cast<int>(dy.dim(0));
  g.k = static_cast<int>(dy.dim(1));
  g.p = static_cast<int>(dy.dim(2));
  g.q = static_cast<int>(dy.dim(3));
  g.groups = 1;
  const Device& device = dy.device();
  check_engine(op, options.engine, device);
  if (options.engine == Engine::cudnn) {
#if KILN_HAVE_CUDA
    return cudnn::conv2d_backward_bias(device.index, g, dy.data(), db.data());
#endif
  }
  if (device.is_cpu()) return cpu::conv2d_backward_bias(g, dy.data(), db.data());
  Tensor workspace =
      workspace_of(simt_kernels::conv2d_backward_bias_workspace_floats(g), device);
  KILN_KERNEL(device, conv2d_backward_bias, g, dy.data(), db.data(), workspace.data());
}

}  // namespace ops
}  // namespace kiln
