// Naive double-precision linear layer: y = x w^T + b, x [batch, in], w [out, in].
#pragma once

#include <vector>

namespace kiln::reference {

struct LinearCase {
  int batch, in, out;
};

inline std::vector<double> linear_forward(const LinearCase& s, const std::vector<double>& x,
                                          const std::vector<double>& w,
                                          const std::vector<double>& b) {
  std::vector<double> y(static_cast<std::size_t>(s.batch) * s.out);
  for (int r = 0; r < s.batch; ++r) {
    for (int o = 0; o < s.out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int i = 0; i < s.in; ++i) acc += x[r * s.in + i] * w[o * s.in + i];
      y[r * s.out + o] = acc;
    }
  }
  return y;
}

struct LinearGrads {
  std::vector<double> dx, dw, db;
};

inline LinearGrads linear_backward(const LinearCase& s, const std::vector<double>& x,
                                   const std::vector<double>& w, const std::vector<double>& dy) {
  LinearGrads g{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0),
                std::vector<double>(s.out, 0.0)};
  for (int r = 0; r < s.batch; ++r) {
    for (int o = 0; o < s.out; ++o) {
      const double d = dy[r * s.out + o];
      g.db[o] += d;
      for (int i = 0; i < s.in; ++i) {
        g.dx[r * s.in + i] += d * w[o * s.in + i];
        g.dw[o * s.in + i] += d * x[r * s.in + i];
      }
    }
  }
  return g;
}

}  // namespace kiln::reference
