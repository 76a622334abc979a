// GEMM with cuBLAS's column-major semantics on every device:
//   C = alpha * op(A) * op(B) + beta * C,  op(A) is m x k, op(B) is k x n, C is m x n,
//   all column-major with leading dimensions lda, ldb, ldc.
// cuda: cublasSgemm (FP32, no TF32) on the device's stream. cpu and simt: OpenBLAS
// cblas_sgemm(CblasColMajor). The argument checks cuBLAS performs are done on every
// device, so convention mistakes fail in CI on machines without a GPU.
#pragma once

#include <cstdint>

#include "kiln/device.h"

namespace kiln {

enum class Transpose { no, yes };

void gemm(const Device& device, Transpose trans_a, Transpose trans_b, int m, int n, int k,
          float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
          int ldc);

// Row-major convenience: C[m,n] = alpha * op(A) * op(B) + beta * C with A, B, C
// row-major and contiguous (op(A) is m x k). Implemented through gemm() by computing
// C^T = op(B)^T op(A)^T in column-major terms.
void gemm_row_major(const Device& device, Transpose trans_a, Transpose trans_b, int m, int n,
                    int k, float alpha, const float* a, const float* b, float beta, float* c);

}  // namespace kiln
