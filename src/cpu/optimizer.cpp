#include "cpu/optimizer.h"

#include <algorithm>
#include <cmath>

namespace kiln::cpu {

// Below this many elements OpenMP's fork/join costs more than the loop.
constexpr int64_t kParallelMin = 1 << 15;

void sum_squares_accumulate(const float* x, int64_t n, float* acc) {
  // double: no float drift; deterministic for a fixed thread count (each thread's vector
  // lanes sum a fixed share, in a fixed order).
  double total = 0.0;
#pragma omp parallel for simd reduction(+ : total) schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  acc[0] += static_cast<float>(total);
}

void clip_scale(const float* sum_squares, float max_norm, float* scale) {
  scale[0] = std::min(1.0f, max_norm / (std::sqrt(sum_squares[0]) + 1e-6f));
}

void sgd_update(float* w, const float* g, float* m, int64_t n, float lr, float momentum,
                float weight_decay, const float* scale) {
  const float s = scale ? *scale : 1.0f;
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i] * s + weight_decay * w[i];
    const float velocity = momentum * m[i] + grad;
    m[i] = velocity;
    w[i] -= lr * velocity;
  }
}

void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, float bias1, float bias2,
                 const float* scale) {
  const float s = scale ? *scale : 1.0f;
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i] * s + weight_decay * w[i];
    const float m1 = beta1 * m[i] + (1.0f - beta1) * grad;
    const float v1 = beta2 * v[i] + (1.0f - beta2) * grad * grad;
    m[i] = m1;
    v[i] = v1;
    w[i] -= lr * (m1 / bias1) / (std::sqrt(v1 / bias2) + eps);
  }
}

}  // namespace kiln::cpu
