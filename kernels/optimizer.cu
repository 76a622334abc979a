// Fused optimiser kernels: SGD with momentum and L2 weight decay, Adam, and the
// clipping factor of global-norm gradient clipping (computed on the device from
// the sum of squares that kernels/reduce.cu accumulates), so a training step never
// reads the norm on the host.
// Updates: block of 256 threads, one parameter element per thread per grid-stride
//   step; all state (w, g, m[, v]) is read and written once: memory-bound
//   (SGD 16 B, Adam 28 B moved per element; napkin math: bytes / DRAM bandwidth).
//   The clipping factor is one float read through the read-only path by every thread.
// Versions: v1 only (element-wise at this arithmetic intensity has nothing to tile).
#include "kernels/common.cuh"
#include "kernels/optimizer.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

__global__ void clip_scale_kernel(const float* __restrict__ sum_squares, float max_norm,
                                  float* __restrict__ scale) {
  const float norm = sqrtf(sum_squares[0]);
  scale[0] = fminf(1.0f, max_norm / (norm + 1e-6f));
}

__device__ __forceinline__ float gradient_scale(const float* scale) {
  return scale ? __ldg(scale) : 1.0f;
}

__global__ void sgd_kernel(float* __restrict__ w, const float* __restrict__ g,
                           float* __restrict__ m, int64_t n, float lr, float momentum,
                           float weight_decay, const float* __restrict__ scale) {
  const float s = gradient_scale(scale);
  KILN_GRID_STRIDE_LOOP(i, n) {
    const float grad = g[i] * s + weight_decay * w[i];
    const float velocity = momentum * m[i] + grad;
    m[i] = velocity;
    w[i] -= lr * velocity;
  }
}

__global__ void adam_kernel(float* __restrict__ w, const float* __restrict__ g,
                            float* __restrict__ m, float* __restrict__ v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float weight_decay, float bias1,
                            float bias2, const float* __restrict__ scale) {
  const float s = gradient_scale(scale);
  KILN_GRID_STRIDE_LOOP(i, n) {
    const float grad = g[i] * s + weight_decay * w[i];
    const float m1 = beta1 * m[i] + (1.0f - beta1) * grad;
    const float v1 = beta2 * v[i] + (1.0f - beta2) * grad * grad;
    m[i] = m1;
    v[i] = v1;
    w[i] -= lr * (m1 / bias1) / (sqrtf(v1 / bias2) + eps);
  }
}

}  // namespace

void clip_scale(const float* sum_squares, float max_norm, float* scale, rt::Stream s) {
  launch(clip_scale_kernel, dim3(1), dim3(1), 0, s, sum_squares, max_norm, scale);
}

void sgd_update(float* w, const float* g, float* m, int64_t n, float lr, float momentum,
                float weight_decay, const float* scale, rt::Stream s) {
  launch(sgd_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, w, g, m, n, lr,
         momentum, weight_decay, scale);
}

void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, float bias1, float bias2,
                 const float* scale, rt::Stream s) {
  launch(adam_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, w, g, m, v, n, lr,
         beta1, beta2, eps, weight_decay, bias1, bias2, scale);
}

}  // namespace kiln::KILN_BACKEND
