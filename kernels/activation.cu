// relu / tanh / sigmoid forward and backward.
// Block: 256 threads; thread: one element per grid-stride step; no shared memory.
// Memory-bound (2-3 floats moved per element, a few flops). The activation is a
// template parameter so each instantiation is branch-free.
// Versions: v1 only.
#include "kernels/activation.h"
#include "kernels/common.cuh"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

template <int Kind>
__device__ __forceinline__ float activate(float x) {
  if (Kind == 0) return x > 0.0f ? x : 0.0f;
  if (Kind == 1) return tanhf(x);
  return 1.0f / (1.0f + expf(-x));
}

template <int Kind>
__device__ __forceinline__ float derivative_from_output(float y) {
  if (Kind == 0) return y > 0.0f ? 1.0f : 0.0f;
  if (Kind == 1) return 1.0f - y * y;
  return y * (1.0f - y);
}

template <int Kind>
__global__ void forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) {
    y[i] = activate<Kind>(x[i]);
  }
}

template <int Kind>
__global__ void backward_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                float* __restrict__ dx, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) {
    dx[i] = dy[i] * derivative_from_output<Kind>(y[i]);
  }
}

}  // namespace

void activation_forward(int kind, const float* x, float* y, int64_t n, rt::Stream s) {
  switch (kind) {
    case 0: return launch(forward_kernel<0>, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, x, y, n);
    case 1: return launch(forward_kernel<1>, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, x, y, n);
    default: return launch(forward_kernel<2>, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, x, y, n);
  }
}

void activation_backward(int kind, const float* y, const float* dy, float* dx, int64_t n,
                         rt::Stream s) {
  switch (kind) {
    case 0: return launch(backward_kernel<0>, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, y, dy, dx, n);
    case 1: return launch(backward_kernel<1>, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, y, dy, dx, n);
    default: return launch(backward_kernel<2>, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, y, dy, dx, n);
  }
}

}  // namespace kiln::KILN_BACKEND
