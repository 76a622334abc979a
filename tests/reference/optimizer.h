// Naive optimiser references in double precision (plain loops), for the update
// kernels and the CPU backend.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::reference {

struct ParamState {
  std::vector<double> w, m, v;
};

// The global-norm clipping factor over all gradients (1 without clipping).
inline double clip_factor(const std::vector<std::vector<double>>& grads, double clip_norm) {
  if (clip_norm <= 0.0) return 1.0;
  double sum = 0.0;
  for (const auto& g : grads) {
    for (double x : g) sum += x * x;
  }
  return std::min(1.0, clip_norm / (std::sqrt(sum) + 1e-6));
}

inline void sgd_step(ParamState& p, const std::vector<double>& g, double lr, double momentum,
                     double weight_decay, double scale) {
  for (size_t i = 0; i < p.w.size(); ++i) {
    const double grad = g[i] * scale + weight_decay * p.w[i];
    p.m[i] = momentum * p.m[i] + grad;
    p.w[i] -= lr * p.m[i];
  }
}

inline void adam_step(ParamState& p, const std::vector<double>& g, double lr, double beta1,
                      double beta2, double eps, double weight_decay, int step, double scale) {
  const double bias1 = 1.0 - std::pow(beta1, step), bias2 = 1.0 - std::pow(beta2, step);
  for (size_t i = 0; i < p.w.size(); ++i) {
    const double grad = g[i] * scale + weight_decay * p.w[i];
    p.m[i] = beta1 * p.m[i] + (1.0 - beta1) * grad;
    p.v[i] = beta2 * p.v[i] + (1.0 - beta2) * grad * grad;
    p.w[i] -= lr * (p.m[i] / bias1) / (std::sqrt(p.v[i] / bias2) + eps);
  }
}

}  // namespace kiln::reference
