// Block-wide sum (and sum of squares) reduction with warp shuffles, two passes
// (deterministic: the reduction tree depends only on n, never on timing; no atomics).
// Pass 1: a grid of up to kMaxPartials blocks of 256 threads; each thread sums a
//   grid-stride slice in registers, the block combines its 8 warps with
//   __shfl_xor_sync (warp_sum) and 32 floats of shared memory, thread 0 writes
//   one partial.
// Pass 2: one block reduces the partials the same way, and writes or adds the total.
// Memory-bound: reads n floats once. Versions: v1 only.
#include "kernels/common.cuh"
#include "kernels/reduce.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxPartials = static_cast<int>(kSumWorkspaceFloats);

template <bool Square>
__global__ void partial_sums_kernel(const float* __restrict__ x, int64_t n,
                                    float* __restrict__ partials) {
  __shared__ float scratch[32];
  float v = 0.0f;
  KILN_GRID_STRIDE_LOOP(i, n) v += Square ? x[i] * x[i] : x[i];
  v = block_sum(v, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = v;
}

template <bool Accumulate>
__global__ void final_sum_kernel(const float* __restrict__ partials, int count,
                                 float* __restrict__ out) {
  __shared__ float scratch[32];
  float v = 0.0f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) v += partials[i];
  v = block_sum(v, scratch);
  if (threadIdx.x == 0) out[0] = Accumulate ? out[0] + v : v;
}

int partial_count(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < kMaxPartials ? (blocks > 0 ? blocks : 1) : kMaxPartials);
}

template <bool Square, bool Accumulate>
void reduce(const float* x, int64_t n, float* workspace, float* out, rt::Stream s) {
  const int partials = partial_count(n);
  launch(partial_sums_kernel<Square>, dim3(partials), dim3(kThreads), 0, s, x, n, workspace);
  launch(final_sum_kernel<Accumulate>, dim3(1), dim3(kThreads), 0, s, workspace, partials, out);
}

}  // namespace

void sum(const float* x, int64_t n, float* workspace, float* out, rt::Stream s) {
  reduce<false, false>(x, n, workspace, out, s);
}

void sum_squares_accumulate(const float* x, int64_t n, float* workspace, float* acc,
                            rt::Stream s) {
  reduce<true, true>(x, n, workspace, acc, s);
}

}  // namespace kiln::KILN_BACKEND
