// Parallel over (n, c) planes; the inner loop runs along the pixels of a plane so
// every channel neighbour is a contiguous stream (vectorises).
#include "cpu/lrn.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::cpu {

void lrn_forward(const float* x, float* y, float* scale, int n, int c, int64_t plane,
                 const LrnParams& p) {
  const float alpha_over_size = p.alpha / static_cast<float>(p.size);
#pragma omp parallel for collapse(2)
  for (int b = 0; b < n; ++b) {
    for (int ch = 0; ch < c; ++ch) {
      const int64_t base = (static_cast<int64_t>(b) * c) * plane;
      const int lo = std::max(ch - (p.size - 1) / 2, 0), hi = std::min(ch + p.size / 2, c - 1);
      float* s = scale + base + ch * plane;
      std::fill(s, s + plane, 0.0f);
      for (int cc = lo; cc <= hi; ++cc) {
        const float* xc = x + base + cc * plane;
        for (int64_t i = 0; i < plane; ++i) s[i] += xc[i] * xc[i];
      }
      const float* xo = x + base + ch * plane;
      float* yo = y + base + ch * plane;
      for (int64_t i = 0; i < plane; ++i) {
        s[i] = p.k + alpha_over_size * s[i];
        yo[i] = xo[i] * std::pow(s[i], -p.beta);
      }
    }
  }
}

void lrn_backward(const float* x, const float* y, const float* scale, const float* dy, float* dx,
                  int n, int c, int64_t plane, const LrnParams& p) {
  const float coeff = 2.0f * p.alpha * p.beta / static_cast<float>(p.size);
#pragma omp parallel for collapse(2)
  for (int b = 0; b < n; ++b) {
    for (int ch = 0; ch < c; ++ch) {
      const int64_t base = (static_cast<int64_t>(b) * c) * plane;
      // Channels c' whose window holds ch: [ch - size/2, ch + (size-1)/2].
      const int lo = std::max(ch - p.size / 2, 0), hi = std::min(ch + (p.size - 1) / 2, c - 1);
      std::vector<float> sum(plane, 0.0f);
      for (int cc = lo; cc <= hi; ++cc) {
        const int64_t o = base + cc * plane;
        for (int64_t i = 0; i < plane; ++i) sum[i] += dy[o + i] * y[o + i] / scale[o + i];
      }
      const int64_t o = base + ch * plane;
      for (int64_t i = 0; i < plane; ++i) {
        dx[o + i] = dy[o + i] * std::pow(scale[o + i], -p.beta) - coeff * x[o + i] * sum[i];
      }
    }
  }
}

}  // namespace kiln::cpu
