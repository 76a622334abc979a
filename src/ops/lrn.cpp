#include "kiln/ops/lrn.h"

#include "cpu/lrn.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

namespace {

constexpr const char* kOp = "lrn";

void check_lrn(const Tensor& x, const LrnParams& p) {
  check_defined(kOp, x, "x");
  KILN_CHECK(x.rank() == 4, kOp, ": input must be NCHW (rank 4), got ", shape_str(x.shape()));
  KILN_CHECK(p.size >= 1 && p.k > 0.0f && p.alpha >= 0.0f && p.beta >= 0.0f, kOp,
             ": need size >= 1, k > 0, alpha >= 0, beta >= 0 (got size ", p.size, ", k ", p.k,
             ", alpha ", p.alpha, ", beta ", p.beta, ")");
}

}  // namespace

void lrn_forward(const Tensor& x, Tensor& y, Tensor& scale, const LrnParams& p) {
  check_lrn(x, p);
  check_same_shape(kOp, x, y);
  check_same_shape(kOp, x, scale);
  const int n = static_cast<int>(x.dim(0)), c = static_cast<int>(x.dim(1));
  const int64_t plane = x.dim(2) * x.dim(3);
  if (x.device().is_cpu()) return cpu::lrn_forward(x.data(), y.data(), scale.data(), n, c, plane, p);
  KILN_KERNEL(x.device(), lrn_forward, x.data(), y.data(), scale.data(), n, c, plane, p);
}

void lrn_backward(const Tensor& x, const Tensor& y, const Tensor& scale, const Tensor& dy,
                  Tensor& dx, const LrnParams& p) {
  check_lrn(x, p);
  check_same_shape(kOp, x, y);
  check_same_shape(kOp, x, scale);
  check_same_shape(kOp, x, dy);
  check_same_shape(kOp, x, dx);
  const int n = static_cast<int>(x.dim(0)), c = static_cast<int>(x.dim(1));
  const int64_t plane = x.dim(2) * x.dim(3);
  if (x.device().is_cpu()) {
    return cpu::lrn_backward(x.data(), y.data(), scale.data(), dy.data(), dx.data(), n, c, plane,
                             p);
  }
  KILN_KERNEL(x.device(), lrn_backward, x.data(), y.data(), scale.data(), dy.data(), dx.data(), n,
              c, plane, p);
}

}  // namespace kiln::ops
