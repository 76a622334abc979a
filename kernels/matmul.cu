// Tiled matrix multiply C = A * B (row-major), the textbook shared-memory kernel.
// Block: 16x16 threads computing a 16x16 tile of C (and, past 65535 row tiles, every
// gridDim.y-th tile down the column); thread (ty, tx): one element per tile.
// Shared memory: one 16x16 tile of A and one of B per k-step (2 KiB); each global
// element is loaded once per tile row/column instead of once per multiply, so the
// kernel does 16 FMAs per pair of loads. Bound: shared-memory bandwidth at this tile
// size; the GEMM wrapper (cuBLAS) is what layers use for speed.
// Versions: v1 (this). The register-blocked ladder lives in conv2d's implicit GEMM.
#include "kernels/common.cuh"
#include "kernels/matmul.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kTile = 16;

__global__ void matmul_tiled_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                    float* __restrict__ c, int m, int n, int k) {
  __shared__ float a_tile[kTile][kTile];
  __shared__ float b_tile[kTile][kTile + 1];  // +1: no bank conflicts on the column reads
  const int col = blockIdx.x * kTile + threadIdx.x;
  // Row tiles stride by gridDim.y: grid.y is capped, so m may exceed 65535 tiles.
  for (int row0 = blockIdx.y * kTile; row0 < m; row0 += gridDim.y * kTile) {
    const int row = row0 + threadIdx.y;
    float acc = 0.0f;
    for (int k0 = 0; k0 < k; k0 += kTile) {
      const int a_col = k0 + threadIdx.x, b_row = k0 + threadIdx.y;
      a_tile[threadIdx.y][threadIdx.x] = (row < m && a_col < k) ? a[static_cast<int64_t>(row) * k + a_col] : 0.0f;
      b_tile[threadIdx.y][threadIdx.x] = (b_row < k && col < n) ? b[static_cast<int64_t>(b_row) * n + col] : 0.0f;
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kTile; ++kk) acc += a_tile[threadIdx.y][kk] * b_tile[kk][threadIdx.x];
      __syncthreads();
    }
    if (row < m && col < n) c[static_cast<int64_t>(row) * n + col] = acc;
  }
}

}  // namespace

void matmul(const float* a, const float* b, float* c, int m, int n, int k, rt::Stream s) {
  // Row tiles are a grid-stride loop over grid.y, capped like one (4096, below
  // CUDA's 65535 limit on grid.y), so any m launches.
  const unsigned max_y = max_grid_stride_blocks();
  const unsigned row_tiles = blocks_for(m, kTile);
  const dim3 grid(blocks_for(n, kTile), row_tiles < max_y ? row_tiles : max_y);
  launch(matmul_tiled_kernel, grid, dim3(kTile, kTile), 0, s, a, b, c, m, n, k);
}

}  // namespace kiln::KILN_BACKEND
