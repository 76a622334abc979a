// Fused softmax + cross-entropy over the last dimension, and arg-max accuracy.
// Rows: one warp per row (8 warps per 256-thread block, rows looped when the grid
//   is capped). Lanes stride over the classes; the row maximum and the sum of
//   exp(x - max) are warp_max / warp_sum shuffles, so no shared memory and no
//   barrier. Subtracting the maximum keeps exp() in range (numerically stable);
//   loss_row = log(sum) - (x[label] - max). Each row writes its loss and whether it
//   counts into scratch, and one 256-thread block then sums both with block_sum
//   (fixed tree, no atomics, no host sync) and writes loss = sum / count.
// Backward: one block counts the counted rows into a device scalar, then one
//   thread per element writes (probs - onehot) / count.
// count_correct: one block; warps loop over rows, a warp's arg-max is a shuffle
//   reduction on (value, index) pairs where the smaller index wins equal values
//   (first maximum); the block sums the hits and adds them to the device scalar.
// Labels are floats; a label that is neither ignore_index nor an integer class id
// in [0, classes) makes its row's loss and gradient NaN, so the error is visible.
// Memory-bound (C is small: a few loads and exps per element).
// Versions: v1 only.
#include "kernels/common.cuh"
#include "kernels/softmax_cross_entropy.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kIgnored = -1, kInvalid = -2;

// The label of a row as a class id, or kIgnored / kInvalid.
__device__ __forceinline__ int row_label(const float* labels, int64_t row, int classes,
                                         int ignore_index) {
  const float v = labels[row];
  if (v == static_cast<float>(ignore_index)) return kIgnored;
  if (!(v >= 0.0f && v < static_cast<float>(classes))) return kInvalid;
  const int label = static_cast<int>(v);
  return static_cast<float>(label) == v ? label : kInvalid;
}

__global__ void rows_kernel(const float* __restrict__ logits, const float* __restrict__ labels,
                            float* __restrict__ probs, float* __restrict__ row_loss,
                            float* __restrict__ row_counted, int64_t rows, int classes,
                            int ignore_index) {
  const int lane = threadIdx.x % 32;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; row < rows;
       row += static_cast<int64_t>(gridDim.x) * kWarps) {
    const float* x = logits + row * classes;
    float m = -INFINITY;
    for (int j = lane; j < classes; j += 32) m = fmaxf(m, x[j]);
    m = warp_max(m);
    float sum = 0.0f;
    for (int j = lane; j < classes; j += 32) sum += expf(x[j] - m);
    sum = warp_sum(sum);
    const float inv = 1.0f / sum;
    for (int j = lane; j < classes; j += 32) probs[row * classes + j] = expf(x[j] - m) * inv;
    if (lane == 0) {
      const int label = row_label(labels, row, classes, ignore_index);
      const bool counted = label != kIgnored;
      row_loss[row] = label >= 0 ? logf(sum) - (x[label] - m) : (counted ? NAN : 0.0f);
      row_counted[row] = counted ? 1.0f : 0.0f;
    }
  }
}

__global__ void mean_loss_kernel(const float* __restrict__ row_loss,
                                 const float* __restrict__ row_counted, int64_t rows,
                                 float* __restrict__ loss) {
  __shared__ float scratch[32];
  float sum = 0.0f, count = 0.0f;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    sum += row_loss[r];
    count += row_counted[r];
  }
  sum = block_sum(sum, scratch);
  count = block_sum(count, scratch);
  if (threadIdx.x == 0) loss[0] = count > 0.0f ? sum / count : 0.0f;
}

__global__ void count_rows_kernel(const float* __restrict__ labels, int64_t rows, int classes,
                                  int ignore_index, float* __restrict__ count) {
  __shared__ float scratch[32];
  float counted = 0.0f;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    counted += row_label(labels, r, classes, ignore_index) != kIgnored ? 1.0f : 0.0f;
  }
  counted = block_sum(counted, scratch);
  if (threadIdx.x == 0) count[0] = counted;
}

__global__ void grad_kernel(const float* __restrict__ probs, const float* __restrict__ labels,
                            const float* __restrict__ count, float* __restrict__ dlogits,
                            int64_t rows, int classes, int ignore_index) {
  KILN_GRID_STRIDE_LOOP(i, rows * classes) {
    const int64_t row = i / classes;
    const int j = static_cast<int>(i % classes);
    const int label = row_label(labels, row, classes, ignore_index);
    float g = 0.0f;
    if (label >= 0) {
      g = (probs[i] - (j == label ? 1.0f : 0.0f)) / count[0];
    } else if (label == kInvalid) {
      g = NAN;
    }
    dlogits[i] = g;
  }
}

__global__ void count_correct_kernel(const float* __restrict__ logits,
                                     const float* __restrict__ labels, float* __restrict__ correct,
                                     int64_t rows, int classes, int ignore_index) {
  __shared__ float scratch[32];
  const int lane = threadIdx.x % 32;
  float hits = 0.0f;
  for (int64_t row = threadIdx.x / 32; row < rows; row += kWarps) {
    const float* x = logits + row * classes;
    float best = -INFINITY;
    int arg = classes;  // lanes without a class lose every comparison
    for (int j = lane; j < classes; j += 32) {
      if (x[j] > best || arg == classes) {
        best = x[j];
        arg = j;
      }
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      const float other = __shfl_xor_sync(0xffffffffu, best, offset);
      const int other_arg = __shfl_xor_sync(0xffffffffu, arg, offset);
      if (other > best || (other == best && other_arg < arg)) {
        best = other;
        arg = other_arg;
      }
    }
    if (lane == 0 && row_label(labels, row, classes, ignore_index) == arg) hits += 1.0f;
  }
  hits = block_sum(hits, scratch);
  if (threadIdx.x == 0) correct[0] += hits;
}

dim3 row_grid(int64_t rows) {
  const int64_t max_blocks = max_grid_stride_blocks();
  const int64_t blocks = (rows + kWarps - 1) / kWarps;
  return dim3(static_cast<unsigned>(blocks < max_blocks ? blocks : max_blocks));
}

}  // namespace

void softmax_xent_forward(const float* logits, const float* labels, float* probs, float* loss,
                          float* scratch, int64_t rows, int classes, int ignore_index,
                          rt::Stream s) {
  float* row_loss = scratch;
  float* row_counted = scratch + rows;
  launch(rows_kernel, row_grid(rows), dim3(kThreads), 0, s, logits, labels, probs, row_loss,
         row_counted, rows, classes, ignore_index);
  launch(mean_loss_kernel, dim3(1), dim3(kThreads), 0, s, row_loss, row_counted, rows, loss);
}

void softmax_xent_backward(const float* probs, const float* labels, float* dlogits,
                           float* scratch, int64_t rows, int classes, int ignore_index,
                           rt::Stream s) {
  launch(count_rows_kernel, dim3(1), dim3(kThreads), 0, s, labels, rows, classes, ignore_index,
         scratch);
  launch(grad_kernel, grid_stride_grid(rows * classes, kThreads), dim3(kThreads), 0, s, probs,
         labels, scratch, dlogits, rows, classes, ignore_index);
}

void count_correct(const float* logits, const float* labels, float* correct, int64_t rows,
                   int classes, int ignore_index, rt::Stream s) {
  launch(count_correct_kernel, dim3(1), dim3(kThreads), 0, s, logits, labels, correct, rows,
         classes, ignore_index);
}

}  // namespace kiln::KILN_BACKEND
