#include "kiln/ops/elementwise.h"

#include "cpu/elementwise.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

void fill(Tensor& y, float value) {
  check_defined("fill", y, "y");
  if (y.device().is_cpu()) return cpu::fill(y.data(), value, y.numel());
  KILN_KERNEL(y.device(), fill, y.data(), value, y.numel());
}

void scale(Tensor& y, float alpha) {
  check_defined("scale", y, "y");
  if (y.device().is_cpu()) return cpu::scale(y.data(), alpha, y.numel());
  KILN_KERNEL(y.device(), scale, y.data(), alpha, y.numel());
}

void axpy(float alpha, const Tensor& x, Tensor& y) {
  check_same_shape("axpy", x, y);
  if (y.device().is_cpu()) return cpu::axpy(alpha, x.data(), y.data(), y.numel());
  KILN_KERNEL(y.device(), axpy, alpha, x.data(), y.data(), y.numel());
}

void add(const Tensor& a, const Tensor& b, Tensor& out) {
  check_same_shape("add", a, b);
  check_same_shape("add", a, out);
  if (out.device().is_cpu()) return cpu::add(a.data(), b.data(), out.data(), out.numel());
  KILN_KERNEL(out.device(), add, a.data(), b.data(), out.data(), out.numel());
}

void mul(const Tensor& a, const Tensor& b, Tensor& out) {
  check_same_shape("mul", a, b);
  check_same_shape("mul", a, out);
  if (out.device().is_cpu()) return cpu::mul(a.data(), b.data(), out.data(), out.numel());
  KILN_KERNEL(out.device(), mul, a.data(), b.data(), out.data(), out.numel());
}

void uniform(Tensor& y, uint64_t seed, uint64_t offset, float lo, float hi) {
  check_defined("uniform", y, "y");
  if (y.device().is_cpu()) return cpu::uniform(y.data(), y.numel(), seed, offset, lo, hi);
  KILN_KERNEL(y.device(), uniform, y.data(), y.numel(), seed, offset, lo, hi);
}

}  // namespace kiln::ops
