// Naive double-precision many-to-one pooling over valid steps (kiln/ops/sequence_pool.h):
// x [T, B, F] time-major, lengths [B], y [B, F].
#pragma once

#include <vector>

#include "kiln/ops/sequence_pool.h"

namespace kiln::reference {

struct SequencePoolCase {
  int steps, batch, features;
  std::vector<int> lengths;
};

// The step whose feature f mode `last*` reads for a sequence of `length` steps.
inline int pooled_step(SequencePool mode, int length, int f, int features) {
  return mode == SequencePool::last_bidirectional && f >= features / 2 ? 0 : length - 1;
}

inline std::vector<double> sequence_pool_forward(SequencePool mode, const SequencePoolCase& s,
                                                 const std::vector<double>& x) {
  std::vector<double> y(static_cast<size_t>(s.batch) * s.features, 0.0);
  for (int b = 0; b < s.batch; ++b) {
    const int length = s.lengths[b];
    for (int f = 0; f < s.features; ++f) {
      auto at = [&](int t) { return x[(static_cast<size_t>(t) * s.batch + b) * s.features + f]; };
      double& out = y[static_cast<size_t>(b) * s.features + f];
      if (length == 0) continue;
      if (mode == SequencePool::mean) {
        for (int t = 0; t < length; ++t) out += at(t);
        out /= length;
      } else {
        out = at(pooled_step(mode, length, f, s.features));
      }
    }
  }
  return y;
}

inline std::vector<double> sequence_pool_backward(SequencePool mode, const SequencePoolCase& s,
                                                  const std::vector<double>& dy) {
  std::vector<double> dx(static_cast<size_t>(s.steps) * s.batch * s.features, 0.0);
  for (int b = 0; b < s.batch; ++b) {
    const int length = s.lengths[b];
    for (int f = 0; f < s.features; ++f) {
      const double grad = dy[static_cast<size_t>(b) * s.features + f];
      auto at = [&](int t) -> double& {
        return dx[(static_cast<size_t>(t) * s.batch + b) * s.features + f];
      };
      if (length == 0) continue;
      if (mode == SequencePool::mean) {
        for (int t = 0; t < length; ++t) at(t) = grad / length;
      } else {
        at(pooled_step(mode, length, f, s.features)) = grad;
      }
    }
  }
  return dx;
}

}  // namespace kiln::reference
