#include "cpu/conv2d.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kiln/gemm.h"

namespace kiln::cpu {

namespace {

// Sizes of the per-group GEMMs: [kg x crs] * [crs x pq].
struct GroupSizes {
  int cg, kg, crs, pq;
  int64_t x_group, w_group, y_group;  // strides between groups within one sample
};

GroupSizes group_sizes(const Conv2dGeometry& g) {
  GroupSizes s;
  s.cg = g.c / g.groups;
  s.kg = g.k / g.groups;
  s.crs = s.cg * g.r * g.s;
  s.pq = g.p * g.q;
  s.x_group = static_cast<int64_t>(s.cg) * g.h * g.w;
  s.w_group = static_cast<int64_t>(s.kg) * s.crs;
  s.y_group = static_cast<int64_t>(s.kg) * s.pq;
  return s;
}

// Input row (or column) that output position `o` and kernel tap `t` read; may fall
// into the padding (outside [0, size)).
inline int input_index(int o, int t, int stride, int pad, int dilation) {
  return o * stride - pad + t * dilation;
}

// col[(c*r + i)*s + j][p*q] = x[c][h(p,i)][w(q,j)] (0 in the padding), for the
// cg channels starting at x.
void im2col(const Conv2dGeometry& g, int cg, const float* x, float* col) {
  for (int c = 0; c < cg; ++c)
    for (int i = 0; i < g.r; ++i)
      for (int j = 0; j < g.s; ++j) {
        float* row = col + ((static_cast<int64_t>(c) * g.r + i) * g.s + j) * g.p * g.q;
        const float* plane = x + static_cast<int64_t>(c) * g.h * g.w;
        for (int p = 0; p < g.p; ++p) {
          const int h = input_index(p, i, g.stride_h, g.pad_top, g.dilation_h);
          for (int q = 0; q < g.q; ++q) {
            const int w = input_index(q, j, g.stride_w, g.pad_left, g.dilation_w);
            const bool inside = h >= 0 && h < g.h && w >= 0 && w < g.w;
            row[p * g.q + q] = inside ? plane[h * g.w + w] : 0.0f;
          }
        }
      }
}

// The adjoint of im2col: dx[c][h][w] += every col entry that read it.
void col2im_add(const Conv2dGeometry& g, int cg, const float* col, float* dx) {
  for (int c = 0; c < cg; ++c)
    for (int i = 0; i < g.r; ++i)
      for (int j = 0; j < g.s; ++j) {
        const float* row = col + ((static_cast<int64_t>(c) * g.r + i) * g.s + j) * g.p * g.q;
        float* plane = dx + static_cast<int64_t>(c) * g.h * g.w;
        for (int p = 0; p < g.p; ++p) {
          const int h = input_index(p, i, g.stride_h, g.pad_top, g.dilation_h);
          if (h < 0 || h >= g.h) continue;
          for (int q = 0; q < g.q; ++q) {
            const int w = input_index(q, j, g.stride_w, g.pad_left, g.dilation_w);
            if (w >= 0 && w < g.w) plane[h * g.w + w] += row[p * g.q + q];
          }
        }
      }
}

const Device kCpu = Device::cpu();

}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y) {
  const GroupSizes s = group_sizes(g);
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(s.crs) * s.pq);
#pragma omp for schedule(static)
    for (int n = 0; n < g.n; ++n) {
      for (int grp = 0; grp < g.groups; ++grp) {
        const float* xg = x + (static_cast<int64_t>(n) * g.groups + grp) * s.x_group;
        float* yg = y + (static_cast<int64_t>(n) * g.groups + grp) * s.y_group;
        im2col(g, s.cg, xg, col.data());
        gemm_row_major(kCpu, Transpose::no, Transpose::no, s.kg, s.pq, s.crs, 1.0f,
                       w + grp * s.w_group, col.data(), 0.0f, yg);
      }
      if (bias) {
        float* yn = y + static_cast<int64_t>(n) * g.k * s.pq;
        for (int k = 0; k < g.k; ++k)
          for (int i = 0; i < s.pq; ++i) yn[static_cast<int64_t>(k) * s.pq + i] += bias[k];
      }
    }
  }
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  const GroupSizes s = group_sizes(g);
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(s.crs) * s.pq);
#pragma omp for schedule(static)
    for (int n = 0; n < g.n; ++n) {
      for (int grp = 0; grp < g.groups; ++grp) {
        const float* dyg = dy + (static_cast<int64_t>(n) * g.groups + grp) * s.y_group;
        float* dxg = dx + (static_cast<int64_t>(n) * g.groups + grp) * s.x_group;
        // col [crs x pq] = W_g^T [crs x kg] * dy_g [kg x pq]
        gemm_row_major(kCpu, Transpose::yes, Transpose::no, s.crs, s.pq, s.kg, 1.0f,
                       w + grp * s.w_group, dyg, 0.0f, col.data());
        std::fill(dxg, dxg + s.x_group, 0.0f);
        col2im_add(g, s.cg, col.data(), dxg);
      }
    }
  }
}

void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw) {
  const GroupSizes s = group_sizes(g);
  const int64_t dw_size = s.w_group * g.groups;
  // A fixed chunk count keeps the summation order independent of OMP_NUM_THREADS.
  constexpr int kMaxChunks = 16;
  const int chunks = std::max(1, std::min(g.n, kMaxChunks));
  std::vector<float> partial(static_cast<size_t>(chunks) * dw_size);
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(s.crs) * s.pq);
#pragma omp for schedule(static)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      float* acc = partial.data() + chunk * dw_size;
      const int begin = static_cast<int>(static_cast<int64_t>(g.n) * chunk / chunks);
      const int end = static_cast<int>(static_cast<int64_t>(g.n) * (chunk + 1) / chunks);
      for (int n = begin; n < end; ++n) {
        for (int grp = 0; grp < g.groups; ++grp) {
          const float* xg = x + (static_cast<int64_t>(n) * g.groups + grp) * s.x_group;
          const float* dyg = dy + (static_cast<int64_t>(n) * g.groups + grp) * s.y_group;
          im2col(g, s.cg, xg, col.data());
          // dW_g [kg x crs] (+)= dy_g [kg x pq] * col^T [pq x crs]
          gemm_row_major(kCpu, Transpose::no, Transpose::yes, s.kg, s.crs, s.pq, 1.0f, dyg,
                         col.data(), n == begin ? 0.0f : 1.0f, acc + grp * s.w_group);
        }
      }
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < dw_size; ++i) {
      float sum = 0.0f;
      for (int chunk = 0; chunk < chunks; ++chunk) sum += partial[chunk * dw_size + i];
      dw[i] = sum;
    }
  }
}

void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db) {
  const int64_t pq = static_cast<int64_t>(g.p) * g.q;
#pragma omp parallel for schedule(static)
  for (int k = 0; k < g.k; ++k) {
    double sum = 0.0;
    for (int n = 0; n < g.n; ++n) {
      const float* plane = dy + (static_cast<int64_t>(n) * g.k + k) * pq;
      for (int64_t i = 0; i < pq; ++i) sum += plane[i];
    }
    db[k] = static_cast<float>(sum);
  }
}

}  // namespace kiln::cpu
