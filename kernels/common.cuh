// Device helpers shared by kernel files: grid-stride loop bounds and warp/block
// reductions with shuffles. Included after kernels/compat.cuh.
#pragma once

#include "kernels/compat.cuh"

namespace kiln::KILN_BACKEND {

// The most blocks a grid-stride launch uses: 4096 on a GPU; on the emulator
// KILN_SIMT_MAX_BLOCKS can lower it so that tests take the loops' later passes.
inline unsigned max_grid_stride_blocks() {
#if defined(__CUDACC__)
  return 4096;
#else
  return ::kiln::simt::max_grid_stride_blocks();
#endif
}

// A grid for a grid-stride loop over n items: enough blocks to cover n, capped so
// that huge n reuses threads instead of launching millions of blocks.
inline dim3 grid_stride_grid(int64_t n, int threads_per_block) {
  const unsigned max_blocks = max_grid_stride_blocks();
  const unsigned blocks = blocks_for(n, threads_per_block);
  return dim3(blocks < max_blocks ? blocks : max_blocks);
}

#define KILN_GRID_STRIDE_LOOP(i, n)                                                       \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// Sum over the 32 lanes of a full warp; every lane gets the total.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over a 1-D block whose size is a multiple of 32 (at most 1024 threads).
// Every thread gets the total. `scratch` is 32 floats of shared memory; the
// function ends with a barrier so it can be reused right away.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int warps = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}

}  // namespace kiln::KILN_BACKEND
