// Naive double-precision pooling reference: loops over the whole kernel window and
// skips padded positions; max keeps the first maximum in row-major window order,
// avg divides by the number of in-bounds positions.
#pragma once

#include <algorithm>
#include <vector>

#include "kiln/ops/pool2d.h"

namespace kiln::reference {

struct PoolCase {
  int n, c, h, w;
  Pool2dParams p;
  int oh() const { return (h + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1; }
  int ow() const { return (w + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1; }
};

// Calls visit(output index, input index) for every in-bounds window position in
// row-major window order.
template <class Visit>
void for_each_window_position(const PoolCase& s, Visit visit) {
  for (int plane = 0; plane < s.n * s.c; ++plane) {
    for (int oy = 0; oy < s.oh(); ++oy) {
      for (int ox = 0; ox < s.ow(); ++ox) {
        const int o = (plane * s.oh() + oy) * s.ow() + ox;
        for (int ky = 0; ky < s.p.kernel_h; ++ky) {
          for (int kx = 0; kx < s.p.kernel_w; ++kx) {
            const int iy = oy * s.p.stride_h - s.p.pad_h + ky;
            const int ix = ox * s.p.stride_w - s.p.pad_w + kx;
            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
            visit(o, (plane * s.h + iy) * s.w + ix);
          }
        }
      }
    }
  }
}

inline int output_count(const PoolCase& s) { return s.n * s.c * s.oh() * s.ow(); }

// The input index each output's max comes from (first maximum wins).
inline std::vector<int> max_winners(const PoolCase& s, const std::vector<double>& x) {
  std::vector<int> winner(output_count(s), -1);
  for_each_window_position(s, [&](int o, int i) {
    if (winner[o] < 0 || x[i] > x[winner[o]]) winner[o] = i;
  });
  return winner;
}

inline std::vector<int> window_sizes(const PoolCase& s) {
  std::vector<int> count(output_count(s), 0);
  for_each_window_position(s, [&](int o, int) { ++count[o]; });
  return count;
}

inline std::vector<double> pool2d_forward(PoolMode mode, const PoolCase& s,
                                          const std::vector<double>& x) {
  std::vector<double> y(output_count(s), 0.0);
  if (mode == PoolMode::max) {
    const std::vector<int> winner = max_winners(s, x);
    for (std::size_t o = 0; o < y.size(); ++o) y[o] = x[winner[o]];
    return y;
  }
  const std::vector<int> count = window_sizes(s);
  for_each_window_position(s, [&](int o, int i) { y[o] += x[i] / count[o]; });
  return y;
}

inline std::vector<double> pool2d_backward(PoolMode mode, const PoolCase& s,
                                           const std::vector<double>& x,
                                           const std::vector<double>& dy) {
  std::vector<double> dx(x.size(), 0.0);
  if (mode == PoolMode::max) {
    const std::vector<int> winner = max_winners(s, x);
    for (std::size_t o = 0; o < dy.size(); ++o) dx[winner[o]] += dy[o];
    return dx;
  }
  const std::vector<int> count = window_sizes(s);
  for_each_window_position(s, [&](int o, int i) { dx[i] += dy[o] / count[o]; });
  return dx;
}

}  // namespace kiln::reference
