#include "cpu/softmax_cross_entropy.h"

#include <cmath>
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

}  // namespace

void softmax_xent_forward(const float* logits, const float* labels, float* probs, float* loss,
                          int64_t rows, int classes, int ignore_index) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (rows * classes > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * classes;
    float* pr = probs + r * classes;
    float m = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < classes; ++j) m = std::fmax(m, x[j]);
    float sum = 0.0f;
    for (int j = 0; j < classes; ++j) {
      pr[j] = std::exp(x[j] - m);
      sum += pr[j];
    }
    const float inv = 1.0f / sum;
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
    for (int j = 0; j < classes; ++j) {
      const int64_t i = r * classes + j;
      if (label >= 0) {
        dlogits[i] = (probs[i] - (j == label ? 1.0f : 0.0f)) / count;
      } else {
        dlogits[i] = label == kInvalid ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
      }
    }
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
