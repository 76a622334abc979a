#include "kiln/ops/reduce.h"

#include "cpu/elementwise.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

void sum(const Tensor& x, Tensor& out) {
  check_same_device("sum", x, out);
  KILN_CHECK(out.numel() == 1, "sum: output must have one element, got ", shape_str(out.shape()));
  if (x.device().is_cpu()) {
    out.data()[0] = cpu::sum(x.data(), x.numel());
    return;
  }
  // Both kernel builds declare the same constant.
  Tensor workspace({simt_kernels::kSumWorkspaceFloats}, x.device());
  KILN_KERNEL(x.device(), sum, x.data(), x.numel(), workspace.data(), out.data());
}

}  // namespace kiln::ops
