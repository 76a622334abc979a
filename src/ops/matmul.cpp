#include "kiln/ops/matmul.h"

#include "kiln/gemm.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

void matmul(const Tensor& a, const Tensor& b, Tensor& c) {
  check_same_device("matmul", a, b);
  check_same_device("matmul", a, c);
  KILN_CHECK(a.rank() == 2 && b.rank() == 2 && c.rank() == 2 && a.dim(1) == b.dim(0) &&
                 c.dim(0) == a.dim(0) && c.dim(1) == b.dim(1),
             "matmul: shapes ", shape_str(a.shape()), " x ", shape_str(b.shape()), " -> ",
             shape_str(c.shape()), " do not fit [m,k] x [k,n] -> [m,n]");
  const int m = static_cast<int>(a.dim(0)), k = static_cast<int>(a.dim(1));
  const int n = static_cast<int>(b.dim(1));
  if (c.device().is_cpu()) {
    return gemm_row_major(c.device(), Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(),
                          b.data(), 0.0f, c.data());
  }
  KILN_KERNEL(c.device(), matmul, a.data(), b.data(), c.data(), m, n, k);
}

}  // namespace kiln::ops
