#include "cpu/softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace kiln::cpu {

namespace {

constexpr int kIgnored = -1, kInvalid = -2;

// The label of a row as a class id, or kIgnored / kInvalid (not an integer class).
int row_label(float v, int classes, int ignore_index) {
  if (v == static_cast<float>(ignore_index)) return kIgnored;
  if (!(v >= 0.0f && v < static_cast<float>(classes))) return kInvalid;
  const int label = static_cast<int>(v);
  return static_cast<float>(label) == v ? label : kInvalid;
}

int64_t counted_rows(const float* labels, int64_t rows, int classes, int ignore_index) {
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) count += row_label(labels[r], classes, ignore_index) != kIgnored;
  return count;
}

// exp(x) for x <= 0 (a logit minus its row's maximum) in plain float arithmetic that
// vectorises, where libm's expf is a call per element: 2^n p(r) with n = round(x log2 e),
// r = x - n ln 2 (ln 2 in two parts, Cody-Waite) and Cephes' degree-7 expf polynomial
// (relative error ~2e-7). Rounding adds and subtracts 1.5 * 2^23. Below -87 it returns
// exp(-87) ~ 1.6e-38 (a probability of 0 to float precision). Branch-free, so that it
// vectorises.
inline float exp_nonpositive(float x) {
  const float clamped = x > -87.0f ? x : -87.0f;
  const float n = (clamped * 1.44269504f + 12582912.0f) - 12582912.0f;
  const float r = (clamped - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = __builtin_bit_cast(float, (static_cast<int32_t>(n) + 127) << 23);
  return p * scale;
}

}  // namespace

void softmax_xent_forward(const float* logits, const float* labels, float* probs, float* loss,
                          int64_t rows, int classes, int ignore_index) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (rows * classes > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * classes;
    float* pr = probs + r * classes;
    float m = -std::numeric_limits<float>::infinity();
    int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
    for (int j = 0; j < classes; ++j) {
      m = x[j] > m ? x[j] : m;
      nan |= x[j] != x[j];
    }
    if (nan) {  // a NaN logit: NaN probabilities and loss, as expf would give
      std::fill_n(pr, classes, std::numeric_limits<float>::quiet_NaN());
      total += std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < classes; ++j) {
      pr[j] = exp_nonpositive(x[j] - m);
      sum += pr[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < classes; ++j) pr[j] *= inv;
    const int label = row_label(labels[r], classes, ignore_index);
    if (label >= 0) total += std::log(sum) - (x[label] - m);
    if (label == kInvalid) total += std::numeric_limits<double>::quiet_NaN();
  }
  const int64_t count = counted_rows(labels, rows, classes, ignore_index);
  loss[0] = count > 0 ? static_cast<float>(total / static_cast<double>(count)) : 0.0f;
}

void softmax_xent_backward(const float* probs, const float* labels, float* dlogits, int64_t rows,
                           int classes, int ignore_index) {
  const float count = static_cast<float>(counted_rows(labels, rows, classes, ignore_index));
#pragma omp parallel for if (rows * classes > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const int label = row_label(labels[r], classes, ignore_index);
    const float* p = probs + r * classes;
    float* d = dlogits + r * classes;
    if (label < 0) {  // ignored: no gradient; invalid: NaN
      std::fill_n(d, classes, label == kInvalid ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
      continue;
    }
#pragma omp simd
    for (int j = 0; j < classes; ++j) d[j] = p[j] / count;
    d[label] = (p[label] - 1.0f) / count;
  }
}

void count_correct(const float* logits, const float* labels, float* correct, int64_t rows,
                   int classes, int ignore_index) {
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * classes;
    int arg = 0;
    for (int j = 1; j < classes; ++j) {
      if (x[j] > x[arg]) arg = j;
    }
    hits += row_label(labels[r], classes, ignore_index) == arg;
  }
  correct[0] += static_cast<float>(hits);
}

}  // namespace kiln::cpu
