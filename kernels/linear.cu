// The bias parts of the linear layer (the products go through the GEMM wrapper).
// bias_add: 256-thread blocks, one thread per element of y (grid-stride); the
//   bias row is tiny and stays in cache. Memory-bound: reads and writes y once.
// bias_grad: column sums of dy [rows, cols]. A 32x32 block owns 32 adjacent
//   columns: thread (tx, ty) sums rows ty, ty+32, ... of column tx (a warp reads 32
//   consecutive floats of one row: coalesced), the partials go through a 32x33
//   shared tile (padding: no bank conflicts on the transposed read), then warp ty
//   adds column ty's 32 partials with shuffles and lane 0 writes it. One block per
//   column group and no atomics, so the summation order is fixed. Memory-bound
//   (reads dy once).
// Versions: v1 only.
#include "kernels/common.cuh"
#include "kernels/linear.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32;

__global__ void bias_add_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                int64_t total, int cols) {
  KILN_GRID_STRIDE_LOOP(i, total) y[i] += bias[i % cols];
}

// 1024 threads a block: without the bound nvcc may give a thread more than the
// 64 registers that allows, and the launch would fail.
__global__ void __launch_bounds__(kTile * kTile)
    bias_grad_kernel(const float* __restrict__ dy, float* __restrict__ db, int64_t rows,
                     int cols) {
  __shared__ float partial[kTile][kTile + 1];
  const int col = blockIdx.x * kTile + threadIdx.x;
  float sum = 0.0f;
  if (col < cols) {
    for (int64_t r = threadIdx.y; r < rows; r += kTile) sum += dy[r * cols + col];
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  // Warp ty now holds column ty's partials, one per lane.
  const float total = warp_sum(partial[threadIdx.x][threadIdx.y]);
  const int out = blockIdx.x * kTile + threadIdx.y;
  if (threadIdx.x == 0 && out < cols) db[out] = total;
}

}  // namespace

void bias_add(float* y, const float* bias, int64_t rows, int cols, rt::Stream s) {
  const int64_t total = rows * cols;
  launch(bias_add_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0, s, y, bias,
         total, cols);
}

void bias_grad(const float* dy, float* db, int64_t rows, int cols, rt::Stream s) {
  launch(bias_grad_kernel, dim3(blocks_for(cols, kTile)), dim3(kTile, kTile), 0, s, dy, db, rows,
         cols);
}

}  // namespace kiln::KILN_BACKEND
