#include "cpu/elementwise.h"

#include <cmath>

#include "kiln/philox.h"

namespace kiln::cpu {

// Below this many elements OpenMP's fork/join costs more than the loop.
constexpr int64_t kParallelMin = 1 << 15;

void fill(float* y, float value, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

void scale(float* y, float alpha, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] *= alpha;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void add(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void mul(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    y[i] = lo + (hi - lo) * philox::uniform(seed, offset, static_cast<uint64_t>(i));
  }
}

void activation_forward(int kind, const float* x, float* y, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = kind == 0 ? (v > 0.0f ? v : 0.0f)
                     : kind == 1 ? std::tanh(v) : 1.0f / (1.0f + std::exp(-v));
  }
}

void activation_backward(int kind, const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = y[i];
    const float d = kind == 0 ? (v > 0.0f ? 1.0f : 0.0f) : kind == 1 ? 1.0f - v * v : v * (1.0f - v);
    dx[i] = dy[i] * d;
  }
}

float sum(const float* x, int64_t n) {
  double total = 0.0;  // double: a float accumulator drifts over millions of terms
#pragma omp parallel for reduction(+ : total) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) total += x[i];
  return static_cast<float>(total);
}

}  // namespace kiln::cpu
