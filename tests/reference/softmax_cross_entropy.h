// Naive double-precision softmax cross-entropy and arg-max accuracy.
#pragma once

#include <cmath>
#include <vector>

namespace kiln::reference {

struct XentCase {
  int rows, classes;
};

inline std::vector<double> softmax(const XentCase& s, const std::vector<double>& logits) {
  std::vector<double> probs(logits.size());
  for (int r = 0; r < s.rows; ++r) {
    double m = -INFINITY, sum = 0.0;
    for (int j = 0; j < s.classes; ++j) m = std::max(m, logits[r * s.classes + j]);
    for (int j = 0; j < s.classes; ++j) sum += std::exp(logits[r * s.classes + j] - m);
    for (int j = 0; j < s.classes; ++j) {
      probs[r * s.classes + j] = std::exp(logits[r * s.classes + j] - m) / sum;
    }
  }
  return probs;
}

inline int counted_rows(const std::vector<float>& labels, int ignore_index) {
  int count = 0;
  for (float l : labels) count += static_cast<int>(l) != ignore_index;
  return count;
}

inline double xent_loss(const XentCase& s, const std::vector<double>& logits,
                        const std::vector<float>& labels, int ignore_index) {
  const std::vector<double> probs = softmax(s, logits);
  const int count = counted_rows(labels, ignore_index);
  double total = 0.0;
  for (int r = 0; r < s.rows; ++r) {
    const int label = static_cast<int>(labels[r]);
    if (label != ignore_index) total -= std::log(probs[r * s.classes + label]);
  }
  return count > 0 ? total / count : 0.0;
}

inline std::vector<double> xent_backward(const XentCase& s, const std::vector<double>& logits,
                                         const std::vector<float>& labels, int ignore_index) {
  std::vector<double> grad = softmax(s, logits);
  const int count = counted_rows(labels, ignore_index);
  for (int r = 0; r < s.rows; ++r) {
    const int label = static_cast<int>(labels[r]);
    for (int j = 0; j < s.classes; ++j) {
      double& g = grad[r * s.classes + j];
      g = label == ignore_index ? 0.0 : (g - (j == label ? 1.0 : 0.0)) / count;
    }
  }
  return grad;
}

inline int count_correct(const XentCase& s, const std::vector<double>& logits,
                         const std::vector<float>& labels, int ignore_index) {
  int hits = 0;
  for (int r = 0; r < s.rows; ++r) {
    int arg = 0;
    for (int j = 1; j < s.classes; ++j) {
      if (logits[r * s.classes + j] > logits[r * s.classes + arg]) arg = j;
    }
    const int label = static_cast<int>(labels[r]);
    hits += label != ignore_index && label == arg;
  }
  return hits;
}

}  // namespace kiln::reference
