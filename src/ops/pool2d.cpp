#include "kiln/ops/pool2d.h"

#include "cpu/pool2d.h"
#include "ops/checks.h"
#include "ops/kernels.h"

#if KILN_HAVE_CUDA
#include "cudnn/pool2d.h"
#endif

namespace kiln {

namespace {

const char* op_name(PoolMode mode) { return mode == PoolMode::max ? "max_pool2d" : "avg_pool2d"; }

void check_params(const char* op, const Pool2dParams& p) {
  KILN_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1, op,
             ": kernel (", p.kernel_h, "x", p.kernel_w, ") and stride (", p.stride_h, "x",
             p.stride_w, ") must be at least 1");
  // pad < kernel keeps every window at least one element inside the image (cuDNN's rule too).
  KILN_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && p.pad_h < p.kernel_h && p.pad_w < p.kernel_w, op,
             ": padding (", p.pad_h, "x", p.pad_w, ") must be in [0, kernel) for kernel ",
             p.kernel_h, "x", p.kernel_w);
}

}  // namespace

Shape pool2d_output_shape(const Shape& x, const Pool2dParams& p) {
  check_params("pool2d", p);
  KILN_CHECK(x.size() == 4, "pool2d: input must be NCHW (rank 4), got ", shape_str(x));
  const int64_t h = x[2] + 2 * p.pad_h, w = x[3] + 2 * p.pad_w;
  KILN_CHECK(h >= p.kernel_h && w >= p.kernel_w, "pool2d: padded input ", h, "x", w, " of ",
             shape_str(x), " is smaller than the kernel ", p.kernel_h, "x", p.kernel_w);
  return {x[0], x[1], (h - p.kernel_h) / p.stride_h + 1, (w - p.kernel_w) / p.stride_w + 1};
}

namespace ops {

namespace {

void check_pool_tensors(const char* op, const Tensor& x, const Tensor& y, const Pool2dParams& p,
                        Engine engine) {
  check_defined(op, x, "x");
  check_defined(op, y, "y");
  check_params(op, p);
  check_same_device(op, x, y);
  check_engine(op, engine, x.device());
  KILN_CHECK(x.rank() == 4, op, ": input must be NCHW (rank 4), got ", shape_str(x.shape()));
  const Shape expected = pool2d_output_shape(x.shape(), p);
  KILN_CHECK(y.shape() == expected, op, ": output is ", shape_str(y.shape()), " but input ",
             shape_str(x.shape()), " with kernel ", p.kernel_h, "x", p.kernel_w, ", stride ",
             p.stride_h, "x", p.stride_w, ", padding ", p.pad_h, "x", p.pad_w, " gives ",
             shape_str(expected));
}

}  // namespace

void pool2d_forward(PoolMode mode, const Tensor& x, Tensor& y, const Pool2dParams& p,
                    Engine engine) {
  const char* op = op_name(mode);
  check_pool_tensors(op, x, y, p, engine);
  if (engine == Engine::cudnn) {
#if KILN_HAVE_CUDA
    return cudnn::pool2d_forward(mode, x, y, p);
#endif
  }
  const int n = static_cast<int>(x.dim(0)), c = static_cast<int>(x.dim(1));
  const int h = static_cast<int>(x.dim(2)), w = static_cast<int>(x.dim(3));
  const int oh = static_cast<int>(y.dim(2)), ow = static_cast<int>(y.dim(3));
  const int m = static_cast<int>(mode);
  if (x.device().is_cpu()) return cpu::pool2d_forward(m, x.data(), y.data(), n, c, h, w, oh, ow, p);
  KILN_KERNEL(x.device(), pool2d_forward, m, x.data(), y.data(), n, c, h, w, oh, ow, p);
}

void pool2d_backward(PoolMode mode, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor& dx, const Pool2dParams& p, Engine engine) {
  const char* op = op_name(mode);
  check_pool_tensors(op, x, y, p, engine);
  check_same_shape(op, y, dy);
  check_same_shape(op, x, dx);
  if (engine == Engine::cudnn) {
#if KILN_HAVE_CUDA
    return cudnn::pool2d_backward(mode, x, y, dy, dx, p);
#endif
  }
  const int n = static_cast<int>(x.dim(0)), c = static_cast<int>(x.dim(1));
  const int h = static_cast<int>(x.dim(2)), w = static_cast<int>(x.dim(3));
  const int oh = static_cast<int>(y.dim(2)), ow = static_cast<int>(y.dim(3));
  const int m = static_cast<int>(mode);
  if (x.device().is_cpu()) {
    return cpu::pool2d_backward(m, x.data(), y.data(), dy.data(), dx.data(), n, c, h, w, oh, ow,
                                p);
  }
  KILN_KERNEL(x.device(), pool2d_backward, m, x.data(), y.data(), dy.data(), dx.data(), n, c, h,
              w, oh, ow, p);
}

}  // namespace ops
}  // namespace kiln
