// Many-to-one pooling over each sequence's valid steps (kiln/ops/sequence_pool.h).
// forward: 256-thread blocks, grid-stride, one thread per output (b, f): it walks
//   the valid steps t < L_b of feature f (mean) or reads the one chosen step (last).
//   Neighbouring threads read neighbouring features of one step: coalesced. No
//   shared memory. Memory-bound (reads each valid input once, writes y once).
// backward: one thread per dx element (t, b, f), grid-stride: dy[b, f] / L_b or
//   dy[b, f] at the pooled step, zero elsewhere. Memory-bound (writes dx once).
// The mean sums in step order in float and then scales by 1/L_b, exactly as the
// CPU backend does, so the two agree to the last bit.
// Versions: v1 only.
#include "kernels/common.cuh"
#include "kernels/sequence_pool.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int valid_steps(const float* lengths, int b, int steps) {
  const int length = static_cast<int>(lengths[b]);
  return length < 0 ? 0 : length > steps ? steps : length;
}

__device__ __forceinline__ int last_step(int mode, int length, int f, int features) {
  return mode == 2 && f >= features / 2 ? 0 : length - 1;
}

__global__ void sequence_pool_forward_kernel(int mode, const float* __restrict__ x,
                                             const float* __restrict__ lengths,
                                             float* __restrict__ y, int steps, int batch,
                                             int features) {
  const int64_t row = static_cast<int64_t>(batch) * features;
  KILN_GRID_STRIDE_LOOP(i, row) {
    const int b = static_cast<int>(i / features), f = static_cast<int>(i % features);
    const int length = valid_steps(lengths, b, steps);
    float out = 0.0f;
    if (length > 0 && mode == 0) {
      for (int t = 0; t < length; ++t) out += x[t * row + i];
      out *= 1.0f / static_cast<float>(length);
    } else if (length > 0) {
      out = x[last_step(mode, length, f, features) * row + i];
    }
    y[i] = out;
  }
}

__global__ void sequence_pool_backward_kernel(int mode, const float* __restrict__ lengths,
                                              const float* __restrict__ dy,
                                              float* __restrict__ dx, int steps, int batch,
                                              int features) {
  const int64_t row = static_cast<int64_t>(batch) * features;
  KILN_GRID_STRIDE_LOOP(i, row * steps) {
    const int t = static_cast<int>(i / row);
    const int64_t j = i % row;  // (b, f) within the step
    const int b = static_cast<int>(j / features), f = static_cast<int>(j % features);
    const int length = valid_steps(lengths, b, steps);
    float grad = 0.0f;
    if (mode == 0 && t < length) {
      grad = dy[j] * (1.0f / static_cast<float>(length));
    } else if (mode != 0 && length > 0 && t == last_step(mode, length, f, features)) {
      grad = dy[j];
    }
    dx[i] = grad;
  }
}

}  // namespace

void sequence_pool_forward(int mode, const float* x, const float* lengths, float* y, int steps,
                           int batch, int features, rt::Stream s) {
  const int64_t n = static_cast<int64_t>(batch) * features;
  launch(sequence_pool_forward_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, mode,
         x, lengths, y, steps, batch, features);
}

void sequence_pool_backward(int mode, const float* lengths, const float* dy, float* dx,
                            int steps, int batch, int features, rt::Stream s) {
  const int64_t n = static_cast<int64_t>(batch) * features * steps;
  launch(sequence_pool_backward_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s,
         mode, lengths, dy, dx, steps, batch, features);
}

}  // namespace kiln::KILN_BACKEND
