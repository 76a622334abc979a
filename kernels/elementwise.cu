// Element-wise kernels: fill, scale, axpy, add, mul and Philox uniform fill.
// Block: 256 threads; thread: one element per grid-stride step, so any n runs
// with a capped grid. No shared memory. Memory-bound: each kernel streams its
// operands once (napkin math: bytes moved / DRAM bandwidth).
// Versions: v1 only (grid-stride, coalesced; the compiler vectorises nothing further
// worth a ladder at these arithmetic intensities).
#include "kernels/common.cuh"
#include "kernels/elementwise.h"
#include "kiln/philox.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

__global__ void fill_kernel(float* y, float value, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) y[i] = value;
}
__global__ void scale_kernel(float* y, float alpha, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) y[i] *= alpha;
}
__global__ void axpy_kernel(float alpha, const float* __restrict__ x, float* __restrict__ y,
                            int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) y[i] += alpha * x[i];
}
__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) out[i] = a[i] + b[i];
}
__global__ void mul_kernel(const float* a, const float* b, float* out, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) out[i] = a[i] * b[i];
}
__global__ void uniform_kernel(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo,
                               float hi) {
  KILN_GRID_STRIDE_LOOP(i, n) {
    // Explicit roundings: nvcc would contract lo + (hi - lo) * u into one FMA,
    // and the draws must be bit-identical to the host's (no contraction there).
    y[i] = __fadd_rn(lo, __fmul_rn(hi - lo, philox::uniform(seed, offset, static_cast<uint64_t>(i))));
  }
}

}  // namespace

void fill(float* y, float value, int64_t n, rt::Stream s) {
  launch(fill_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, y, value, n);
}
void scale(float* y, float alpha, int64_t n, rt::Stream s) {
  launch(scale_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, y, alpha, n);
}
void axpy(float alpha, const float* x, float* y, int64_t n, rt::Stream s) {
  launch(axpy_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, alpha, x, y, n);
}
void add(const float* a, const float* b, float* out, int64_t n, rt::Stream s) {
  launch(add_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, a, b, out, n);
}
void mul(const float* a, const float* b, float* out, int64_t n, rt::Stream s) {
  launch(mul_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, a, b, out, n);
}
void uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi,
             rt::Stream s) {
  launch(uniform_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, y, n, seed, offset, lo, hi);
}

}  // namespace kiln::KILN_BACKEND
