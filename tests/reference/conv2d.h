// Naive 2-D convolution in double precision: the reference every conv2d
// implementation (cpu, simt, cuda, cudnn) is checked against. Plain loops over the
// definition, kept separate from the fast CPU backend on purpose.
//   y[n,k,p,q] = bias[k] + sum_{c in group(k), r, s} x[n,c,h,w] * w[k,c',r,s]
//   with h = p*stride_h - pad_top + r*dilation_h, w = q*stride_w - pad_left + s*dilation_w.
#pragma once

#include <vector>

#include "kiln/ops/conv2d.h"

namespace kiln::reference {

// Calls f(x_index, w_index, y_index) for every product term of
// the convolution whose input pixel lies inside the image (padding contributes zero).
template <class F>
void for_each_conv_term(const Conv2dGeometry& g, F f) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int cl = 0; cl < cg; ++cl) {
        const int c = (k / kg) * cg + cl;
        for (int p = 0; p < g.p; ++p)
          for (int q = 0; q < g.q; ++q)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int h = p * g.stride_h - g.pad_top + r * g.dilation_h;
                const int w = q * g.stride_w - g.pad_left + s * g.dilation_w;
                if (h < 0 || h >= g.h || w < 0 || w >= g.w) continue;
                const long xi = ((long(n) * g.c + c) * g.h + h) * g.w + w;
                const long wi = ((long(k) * cg + cl) * g.r + r) * g.s + s;
                const long yi = ((long(n) * g.k + k) * g.p + p) * g.q + q;
                f(xi, wi, yi);
              }
      }
}

template <class T>
std::vector<double> conv2d_forward(const Conv2dGeometry& g, const std::vector<T>& x,
                                   const std::vector<T>& w, const std::vector<T>* bias) {
  std::vector<double> y(static_cast<size_t>(g.n) * g.k * g.p * g.q, 0.0);
  for_each_conv_term(g, [&](long xi, long wi, long yi) { y[yi] += double(x[xi]) * w[wi]; });
  if (bias) {
    for (size_t i = 0; i < y.size(); ++i) y[i] += (*bias)[(i / (g.p * g.q)) % g.k];
  }
  return y;
}

template <class T>
std::vector<double> conv2d_backward_data(const Conv2dGeometry& g, const std::vector<T>& dy,
                                         const std::vector<T>& w) {
  std::vector<double> dx(static_cast<size_t>(g.n) * g.c * g.h * g.w, 0.0);
  for_each_conv_term(g, [&](long xi, long wi, long yi) { dx[xi] += double(dy[yi]) * w[wi]; });
  return dx;
}

template <class T>
std::vector<double> conv2d_backward_filter(const Conv2dGeometry& g, const std::vector<T>& x,
                                           const std::vector<T>& dy) {
  std::vector<double> dw(static_cast<size_t>(g.k) * (g.c / g.groups) * g.r * g.s, 0.0);
  for_each_conv_term(g, [&](long xi, long wi, long yi) { dw[wi] += double(x[xi]) * dy[yi]; });
  return dw;
}

template <class T>
std::vector<double> conv2d_backward_bias(const Conv2dGeometry& g, const std::vector<T>& dy) {
  std::vector<double> db(g.k, 0.0);
  for (size_t i = 0; i < dy.size(); ++i) db[(i / (g.p * g.q)) % g.k] += dy[i];
  return db;
}

}  // namespace kiln::reference
