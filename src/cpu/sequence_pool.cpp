#include "cpu/sequence_pool.h"

#include <algorithm>
#include <cstring>

namespace kiln::cpu {

namespace {

// Lengths are float step counts; the op checked them on the host side of cpu.
int valid_steps(const float* lengths, int b, int steps) {
  return std::clamp(static_cast<int>(lengths[b]), 0, steps);
}

// The step feature f of sequence b is read from under the "last" modes.
int last_step(int mode, int length, int f, int features) {
  return mode == 2 && f >= features / 2 ? 0 : length - 1;
}

}  // namespace

void sequence_pool_forward(int mode, const float* x, const float* lengths, float* y, int steps,
                           int batch, int features) {
  const int64_t row = static_cast<int64_t>(batch) * features;
  for (int b = 0; b < batch; ++b) {
    const int length = valid_steps(lengths, b, steps);
    float* out = y + static_cast<int64_t>(b) * features;
    std::fill(out, out + features, 0.0f);
    if (length == 0) continue;
    const float* first = x + static_cast<int64_t>(b) * features;
    if (mode == 0) {
      for (int t = 0; t < length; ++t) {
#pragma omp simd
        for (int f = 0; f < features; ++f) out[f] += first[t * row + f];
      }
      const float scale = 1.0f / static_cast<float>(length);
#pragma omp simd
      for (int f = 0; f < features; ++f) out[f] *= scale;
      continue;
    }
    for (int f = 0; f < features; ++f) out[f] = first[last_step(mode, length, f, features) * row + f];
  }
}

void sequence_pool_backward(int mode, const float* lengths, const float* dy, float* dx,
                            int steps, int batch, int features) {
  const int64_t row = static_cast<int64_t>(batch) * features;
  std::memset(dx, 0, sizeof(float) * row * steps);
  for (int b = 0; b < batch; ++b) {
    const int length = valid_steps(lengths, b, steps);
    if (length == 0) continue;
    const float* grad = dy + static_cast<int64_t>(b) * features;
    float* first = dx + static_cast<int64_t>(b) * features;
    if (mode == 0) {
      const float scale = 1.0f / static_cast<float>(length);
      for (int t = 0; t < length; ++t) {
#pragma omp simd
        for (int f = 0; f < features; ++f) first[t * row + f] = grad[f] * scale;
      }
      continue;
    }
    for (int f = 0; f < features; ++f) first[last_step(mode, length, f, features) * row + f] = grad[f];
  }
}

}  // namespace kiln::cpu
