// Threading policy of the CPU backend (also used by the emulator's host-side GEMMs):
// OpenMP owns all parallelism; OpenBLAS always runs single-threaded inside kiln.
//
// Why: the OpenBLAS build is the pthreads one, which neither detects that it is called
// from an OpenMP parallel region (so N OpenMP threads each start N BLAS threads) nor
// goes to sleep at once after a call (its workers spin with sched_yield for a while),
// so alternating OpenBLAS-threaded GEMMs with OpenMP loops leaves two thread pools
// fighting for the same cores. Measured on 2 cores: conv passes 3-15x slower, and
// relu/pool loops between GEMMs several times slower, with OpenBLAS's threads on.
//
// How: every kiln GEMM on the host runs inside a SerialBlas scope, which sets
// OpenBLAS to one thread and restores the previous count on exit (the count is
// process-global: a peer library in the same process, e.g. libtorch, keeps its own
// setting between kiln calls). Large GEMMs are split by kiln into slices that OpenMP
// threads compute (cpu::gemm_parallel); the slicing depends on the shape only, never
// on the thread count, so results are bit-identical for any OMP_NUM_THREADS.
// GEMMs inside kiln's own parallel loops call gemm_serial_row_major, which checks
// that the scope is held.
#pragma once

#include "kiln/gemm.h"

namespace kiln::cpu {

class SerialBlas {
 public:
  SerialBlas();
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int saved_threads_;
};

// Column-major GEMM (cuBLAS semantics, arguments already checked), sliced over
// OpenMP threads when large. Must not be called from inside a parallel region.
void gemm_parallel(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
                   const float* a, int lda, const float* b, int ldb, float beta, float* c,
                   int ldc);

// Row-major C[m,n] = alpha op(A) op(B) + beta C with leading dimensions, on the calling
// thread only. Requires a SerialBlas scope (checked): for use inside parallel loops.
void gemm_serial_row_major(Transpose trans_a, Transpose trans_b, int m, int n, int k,
                           float alpha, const float* a, int lda, const float* b, int ldb,
                           float beta, float* c, int ldc);

}  // namespace kiln::cpu
