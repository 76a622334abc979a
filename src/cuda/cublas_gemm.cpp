#include "cuda/check.h"
#include "cuda/context.h"
#include "kiln/gemm.h"

namespace kiln::cuda {

namespace {
cublasOperation_t cublas_op(Transpose t) { return t == Transpose::no ? CUBLAS_OP_N : CUBLAS_OP_T; }
}  // namespace

void cublas_sgemm(int device_index, Transpose trans_a, Transpose trans_b, int m, int n, int k,
                  float alpha, const float* a, int lda, const float* b, int ldb, float beta,
                  float* c, int ldc) {
  Context& ctx = context(device_index);
  ctx.activate();
  KILN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), cublas_op(trans_a), cublas_op(trans_b), m, n, k,
                                &alpha, a, lda, b, ldb, &beta, c, ldc));
}

}  // namespace kiln::cuda
