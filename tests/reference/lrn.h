// Naive double-precision cross-channel LRN, straight from the definition:
//   scale_c = k + alpha/size * sum_{c' in [c-(size-1)/2, c+size/2]} x_c'^2
//   y_c = x_c scale_c^-beta
// The backward sums, for each output channel c', its derivative with respect to
// every input channel in its window (the chain rule written out, not the
// simplified formula the kernels use).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln/ops/lrn.h"

namespace kiln::reference {

struct LrnCase {
  int n, c, h, w;
  LrnParams p;
  int plane() const { return h * w; }
  int at(int b, int ch, int pix) const { return (b * c + ch) * plane() + pix; }
};

inline std::vector<double> lrn_scale(const LrnCase& s, const std::vector<double>& x) {
  std::vector<double> scale(x.size());
  for (int b = 0; b < s.n; ++b) {
    for (int ch = 0; ch < s.c; ++ch) {
      for (int pix = 0; pix < s.plane(); ++pix) {
        double squares = 0.0;
        for (int cc = ch - (s.p.size - 1) / 2; cc <= ch + s.p.size / 2; ++cc) {
          if (cc >= 0 && cc < s.c) squares += x[s.at(b, cc, pix)] * x[s.at(b, cc, pix)];
        }
        scale[s.at(b, ch, pix)] = s.p.k + static_cast<double>(s.p.alpha) / s.p.size * squares;
      }
    }
  }
  return scale;
}

inline std::vector<double> lrn_forward(const LrnCase& s, const std::vector<double>& x) {
  const std::vector<double> scale = lrn_scale(s, x);
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] * std::pow(scale[i], -double(s.p.beta));
  return y;
}

inline std::vector<double> lrn_backward(const LrnCase& s, const std::vector<double>& x,
                                        const std::vector<double>& dy) {
  const std::vector<double> scale = lrn_scale(s, x);
  const double beta = s.p.beta, alpha_n = static_cast<double>(s.p.alpha) / s.p.size;
  std::vector<double> dx(x.size(), 0.0);
  for (int b = 0; b < s.n; ++b) {
    for (int co = 0; co < s.c; ++co) {  // output channel
      for (int pix = 0; pix < s.plane(); ++pix) {
        const int o = s.at(b, co, pix);
        dx[o] += dy[o] * std::pow(scale[o], -beta);
        // d scale_co / d x_ci = 2 alpha/size x_ci for ci in co's window.
        const double common = dy[o] * x[o] * -beta * std::pow(scale[o], -beta - 1.0);
        for (int ci = co - (s.p.size - 1) / 2; ci <= co + s.p.size / 2; ++ci) {
          if (ci < 0 || ci >= s.c) continue;
          const int i = s.at(b, ci, pix);
          dx[i] += common * 2.0 * alpha_n * x[i];
        }
      }
    }
  }
  return dx;
}

}  // namespace kiln::reference
