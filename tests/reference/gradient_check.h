// Central finite differences on the double-precision reference models, in the
// spirit of Caffe's GradientChecker: for a forward f and an upstream gradient dy,
//   dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),  L(x) = sum_j dy_j f(x)_j.
// The references' analytic backwards are checked against this; device backwards
// are then checked against the references' backwards.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

namespace kiln::reference {

inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <class Forward>
std::vector<double> numeric_gradient(Forward forward, std::vector<double> x,
                                     const std::vector<double>& dy, double eps = 1e-6) {
  std::vector<double> grad(x.size());
  auto weighted = [&](const std::vector<double>& at) {
    const std::vector<double> y = forward(at);
    double total = 0.0;
    for (std::size_t j = 0; j < y.size(); ++j) total += dy[j] * y[j];
    return total;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double plus = weighted(x);
    x[i] = saved - eps;
    const double minus = weighted(x);
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * eps);
  }
  return grad;
}

// |analytic - numeric| <= atol + rtol |numeric| everywhere; reports the worst element.
inline testing::AssertionResult gradients_agree(const std::vector<double>& analytic,
                                                const std::vector<double>& numeric,
                                                double atol = 1e-6, double rtol = 1e-5) {
  if (analytic.size() != numeric.size()) {
    return testing::AssertionFailure() << "size mismatch " << analytic.size() << " vs "
                                       << numeric.size();
  }
  std::size_t worst = 0;
  double worst_excess = -INFINITY;
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    const double excess =
        std::fabs(analytic[i] - numeric[i]) - (atol + rtol * std::fabs(numeric[i]));
    if (excess > worst_excess || std::isnan(excess)) {
      worst_excess = std::isnan(excess) ? INFINITY : excess;
      worst = i;
    }
  }
  std::ostringstream msg;
  msg << "worst element " << worst << ": analytic " << analytic[worst] << ", numeric "
      << numeric[worst];
  if (worst_excess <= 0) return testing::AssertionSuccess() << msg.str();
  return testing::AssertionFailure() << "gradient check failed; " << msg.str();
}

}  // namespace kiln::reference
