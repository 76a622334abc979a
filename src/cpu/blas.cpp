#include "cpu/blas.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kiln/error.h"

namespace kiln::cpu {

namespace {

CBLAS_TRANSPOSE cblas_op(Transpose t) { return t == Transpose::no ? CblasNoTrans : CblasTrans; }

// Work per slice: below ~1 MFLOP a slice costs more to hand out than to compute.
constexpr int64_t kSliceMultiplyAdds = int64_t{1} << 19;
// At most 16 slices: each slice repacks the operand it shares with the others, and with
// 64 slices the language model's output-layer GEMMs ([2240 x 256] x [256 x 13191] and
// its two gradients) ran at 85-124 GFLOP/s instead of 116-134 on 2 threads; 16 slices
// still feed 16 threads (kiln_bench_train, docs/BENCHMARKS.md).
constexpr int64_t kMaxSlices = 16;
constexpr int kSliceAlign = 16;  // whole SIMD register tiles of OpenBLAS's kernels

}  // namespace

SerialBlas::SerialBlas() : saved_threads_(openblas_get_num_threads()) {
  if (saved_threads_ != 1) openblas_set_num_threads(1);
}

SerialBlas::~SerialBlas() {
  if (saved_threads_ != 1) openblas_set_num_threads(saved_threads_);
}

void gemm_parallel(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                   const float* a, int lda, const float* b, int ldb, float beta, float* c,
                   int ldc) {
  KILN_CHECK(!omp_in_parallel(),
             "cpu::gemm_parallel: called inside an OpenMP parallel region; use "
             "gemm_serial_row_major there (src/cpu/blas.h)");
  SerialBlas serial;
  const int64_t work = static_cast<int64_t>(m) * n * k;
  // Cut the larger of C's dimensions; the cut depends on the shape only.
  const bool cut_columns = n >= m;
  const int extent = cut_columns ? n : m;
  const int64_t wanted = std::clamp<int64_t>(work / kSliceMultiplyAdds, 1, kMaxSlices);
  // Rounded up to whole tiles: rounding down cut even a tiny GEMM (wanted = 1) in two when
  // its extent was not a multiple of 16, and woke a thread team for a microsecond of work.
  const int64_t per_slice = (extent + wanted - 1) / wanted;
  const int width = static_cast<int>(
      std::max<int64_t>(kSliceAlign, (per_slice + kSliceAlign - 1) / kSliceAlign * kSliceAlign));
  const int slices = (extent + width - 1) / width;
  if (slices <= 1) {
    cblas_sgemm(CblasColMajor, cblas_op(trans_a), cblas_op(trans_b), m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int slice = 0; slice < slices; ++slice) {
    const int begin = slice * width, size = std::min(width, extent - begin);
    if (cut_columns) {  // columns of op(B) and C
      const float* bs = b + static_cast<int64_t>(begin) * (trans_b == Transpose::no ? ldb : 1);
      cblas_sgemm(CblasColMajor, cblas_op(trans_a), cblas_op(trans_b), m, size, k, alpha, a,
                  lda, bs, ldb, beta, c + static_cast<int64_t>(begin) * ldc, ldc);
    } else {  // rows of op(A) and C
      const float* as = a + static_cast<int64_t>(begin) * (trans_a == Transpose::no ? 1 : lda);
      cblas_sgemm(CblasColMajor, cblas_op(trans_a), cblas_op(trans_b), size, n, k, alpha, as,
                  lda, b, ldb, beta, c + begin, ldc);
    }
  }
}

void gemm_serial_row_major(Transpose trans_a, Transpose trans_b, int m, int n, int k,
                           float alpha, const float* a, int lda, const float* b, int ldb,
                           float beta, float* c, int ldc) {
  KILN_CHECK(openblas_get_num_threads() == 1,
             "gemm_serial_row_major: called without a cpu::SerialBlas scope (OpenBLAS would "
             "start its own threads inside an OpenMP loop)");
  cblas_sgemm(CblasRowMajor, cblas_op(trans_a), cblas_op(trans_b), m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}

}  // namespace kiln::cpu
