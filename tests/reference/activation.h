// Double-precision activations and their derivatives (from x, not from y).
#pragma once

#include <cmath>
#include <vector>

#include "kiln/ops/activation.h"

namespace kiln::reference {

inline double activate(Activation kind, double x) {
  switch (kind) {
    case Activation::relu: return x > 0 ? x : 0.0;
    case Activation::tanh: return std::tanh(x);
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
  }
  return NAN;
}

inline double derivative(Activation kind, double x) {
  switch (kind) {
    case Activation::relu: return x > 0 ? 1.0 : 0.0;
    case Activation::tanh: return 1.0 / (std::cosh(x) * std::cosh(x));
    case Activation::sigmoid: {
      const double e = std::exp(-x);
      return e / ((1.0 + e) * (1.0 + e));
    }
  }
  return NAN;
}

inline std::vector<double> activation_forward(Activation kind, const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = activate(kind, x[i]);
  return y;
}

inline std::vector<double> activation_backward(Activation kind, const std::vector<double>& x,
                                               const std::vector<double>& dy) {
  std::vector<double> dx(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) dx[i] = dy[i] * derivative(kind, x[i]);
  return dx;
}

}  // namespace kiln::reference
