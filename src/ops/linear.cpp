#include "kiln/ops/linear.h"

#include "cpu/linear.h"
#include "kiln/gemm.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

namespace {

constexpr const char* kOp = "linear";

void check_bias(const Tensor& bias, const Tensor& w) {
  check_same_device(kOp, bias, w);
  KILN_CHECK(bias.rank() == 1 && bias.dim(0) == w.dim(0), kOp, ": bias is ",
             shape_str(bias.shape()), " but the weight ", shape_str(w.shape()), " needs [",
             w.dim(0), "]");
}

// x [batch, in], w [out, in], y [batch, out].
void check_linear(const Tensor& x, const Tensor& w, const Tensor& y) {
  check_defined(kOp, x, "x");
  check_defined(kOp, w, "w");
  check_defined(kOp, y, "y");
  check_same_device(kOp, x, w);
  check_same_device(kOp, x, y);
  KILN_CHECK(x.rank() == 2 && w.rank() == 2 && x.dim(1) == w.dim(1) && x.dim(0) >= 1, kOp,
             ": input ", shape_str(x.shape()), " and weight ", shape_str(w.shape()),
             " do not fit x [batch, in], w [out, in] (flatten the input first)");
  KILN_CHECK(y.shape() == Shape({x.dim(0), w.dim(0)}), kOp, ": output is ",
             shape_str(y.shape()), ", expected [", x.dim(0), ", ", w.dim(0), "]");
}

}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  check_linear(x, w, y);
  if (bias) check_bias(*bias, w);
  const int batch = static_cast<int>(x.dim(0)), in = static_cast<int>(x.dim(1));
  const int out = static_cast<int>(w.dim(0));
  // y = x w^T
  gemm_row_major(y.device(), Transpose::no, Transpose::yes, batch, out, in, 1.0f, x.data(),
                 w.data(), 0.0f, y.data());
  if (!bias) return;
  if (y.device().is_cpu()) return cpu::bias_add(y.data(), bias->data(), batch, out);
  KILN_KERNEL(y.device(), bias_add, y.data(), bias->data(), batch, out);
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db) {
  check_linear(x, w, dy);
  check_same_shape(kOp, w, dw);
  if (dx) check_same_shape(kOp, x, *dx);
  if (db) check_bias(*db, w);
  const Device& device = x.device();
  const int batch = static_cast<int>(x.dim(0)), in = static_cast<int>(x.dim(1));
  const int out = static_cast<int>(w.dim(0));
  // dx = dy w;  dw = dy^T x
  if (dx) {
    gemm_row_major(device, Transpose::no, Transpose::no, batch, in, out, 1.0f, dy.data(),
                   w.data(), 0.0f, dx->data());
  }
  gemm_row_major(device, Transpose::yes, Transpose::no, out, in, batch, 1.0f, dy.data(),
                 x.data(), 0.0f, dw.data());
  if (!db) return;
  if (device.is_cpu()) return cpu::bias_grad(dy.data(), db->data(), batch, out);
  KILN_KERNEL(device, bias_grad, dy.data(), db->data(), batch, out);
}

}  // namespace kiln::ops
