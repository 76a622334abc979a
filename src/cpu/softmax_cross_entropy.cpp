// The row loops (maximum, exp and sum, normalisation) are compiled per instruction-set
// variant (cpu/isa.h) and chosen per call: the exp polynomial is most of a language model's
// loss, and the baseline build runs it 4 floats at a time.
#include "cpu/softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/isa.h"

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

#define KILN_PER_ISA_SOURCE "cpu/softmax_row.inc"
#include "cpu/per_isa.inc"

using SoftmaxRowFn = bool (*)(const float*, float*, int, float&, float&);

SoftmaxRowFn softmax_row_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return avx512::softmax_row;
  if (isa == Isa::avx2) return avx2::softmax_row;
#endif
  (void)isa;
  return baseline::softmax_row;
}

}  // namespace

void softmax_xent_forward(const float* logits, const float* labels, float* probs, float* loss,
                          int64_t rows, int classes, int ignore_index) {
  const SoftmaxRowFn softmax_row = softmax_row_for(active_isa());
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (rows * classes > (1 << 14))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * classes;
    float* pr = probs + r * classes;
    float m = 0.0f, sum = 0.0f;
    if (!softmax_row(x, pr, classes, m, sum)) {  // a NaN logit: NaN probabilities and loss
      std::fill_n(pr, classes, std::numeric_limits<float>::quiet_NaN());
      total += std::numeric_limits<double>::quiet_NaN();
      continue;
    }
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
