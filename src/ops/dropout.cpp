#include "kiln/ops/dropout.h"

#include "cpu/dropout.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

namespace {

void dropout_apply(const char* op, const Tensor& in, Tensor& out, float p, uint64_t seed,
                   uint64_t offset) {
  check_defined(op, in, "input");
  check_defined(op, out, "output");
  check_same_shape(op, in, out);
  KILN_CHECK(p >= 0.0f && p < 1.0f, op, ": drop probability p = ", p,
             " is outside [0, 1); use p = 0 to disable dropout");
  const float scale = 1.0f / (1.0f - p);  // computed once here so every device uses the same bits
  if (out.device().is_cpu()) {
    return cpu::dropout_apply(in.data(), out.data(), out.numel(), p, scale, seed, offset);
  }
  KILN_KERNEL(out.device(), dropout_apply, in.data(), out.data(), out.numel(), p, scale, seed,
              offset);
}

}  // namespace

void dropout_forward(const Tensor& x, Tensor& y, float p, uint64_t seed, uint64_t offset) {
  dropout_apply("dropout", x, y, p, seed, offset);
}

void dropout_backward(const Tensor& dy, Tensor& dx, float p, uint64_t seed, uint64_t offset) {
  dropout_apply("dropout backward", dy, dx, p, seed, offset);
}

}  // namespace kiln::ops
