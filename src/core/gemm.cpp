#include "kiln/gemm.h"

#include <algorithm>

#include "cpu/blas.h"
#include "kiln/error.h"
#include "kiln/runtime.h"

namespace kiln {

#if KILN_HAVE_CUDA
namespace cuda {
void cublas_sgemm(int device_index, Transpose trans_a, Transpose trans_b, int m, int n, int k,
                  float alpha, const float* a, int lda, const float* b, int ldb, float beta,
                  float* c, int ldc);
}
#endif

namespace {

// cuBLAS returns CUBLAS_STATUS_INVALID_VALUE for these; kiln says which argument.
void check_gemm_args(Transpose trans_a, Transpose trans_b, int m, int n, int k, int lda,
                     int ldb, int ldc) {
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, " n=", n, " k=", k);
  const int a_rows = trans_a == Transpose::no ? m : k;
  const int b_rows = trans_b == Transpose::no ? k : n;
  KILN_CHECK(lda >= std::max(1, a_rows), "gemm: lda=", lda, " < rows of A (", a_rows, ")");
  KILN_CHECK(ldb >= std::max(1, b_rows), "gemm: ldb=", ldb, " < rows of B (", b_rows, ")");
  KILN_CHECK(ldc >= std::max(1, m), "gemm: ldc=", ldc, " < m (", m, ")");
}

}  // namespace

void gemm(const Device& device, Transpose trans_a, Transpose trans_b, int m, int n, int k,
          float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
          int ldc) {
  check_gemm_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  if (device.is_cuda()) {
#if KILN_HAVE_CUDA
    rt::runtime(device);  // availability check with a clear message
    return cuda::cublas_sgemm(device.index, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                              beta, c, ldc);
#else
    require_available(device);
#endif
  }
  // OpenBLAS single-threaded, sliced over OpenMP threads: the policy in src/cpu/blas.h.
  cpu::gemm_parallel(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_row_major(const Device& device, Transpose trans_a, Transpose trans_b, int m, int n,
                    int k, float alpha, const float* a, const float* b, float beta, float* c) {
  // Row-major X is column-major X^T, so C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m).
  const int lda = trans_a == Transpose::no ? k : m;
  const int ldb = trans_b == Transpose::no ? n : k;
  gemm(device, trans_b, trans_a, n, m, k, alpha, b, std::max(1, ldb), a, std::max(1, lda), beta,
       c, std::max(1, n));
}

}  // namespace kiln
