// The GEMM version and the choice between versions. Batched im2col: the samples of a
// chunk are laid side by side, so each group costs one GEMM with N = samples * P * Q
// instead of one small GEMM per sample. Parallelism and OpenBLAS threads follow
// src/cpu/blas.h: each OpenMP thread owns a contiguous range of samples (forward,
// backward-data) or a fixed chunk of the batch (backward-filter) and runs
// single-threaded GEMMs on it, so the im2col/scatter copies are parallel too.
#include "cpu/conv2d.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/blas.h"
#include "cpu/conv2d_direct.h"

namespace kiln::cpu {

namespace {

// Scratch (im2col columns + the GEMM's other operand) per thread; fixed, so the
// sub-chunking, and with it backward-filter's summation order, depends on the shape
// only. 16 threads stay within 64 MiB.
constexpr int64_t kScratchBytesPerThread = int64_t{4} << 20;
// Each chunk's GEMMs reduce over at least this many output positions: shorter
// reductions run OpenBLAS inefficiently and make adding the partials cost more than
// the GEMMs.
constexpr int64_t kMinFilterColumns = 256;

// Sizes of the per-group GEMMs: [kg x crs] * [crs x pq] per sample.
struct GroupSizes {
  int cg, kg, crs, pq;
  int64_t x_group, w_group, y_group;  // strides between groups within one sample
  int chunk;                          // samples per im2col buffer
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
  const int64_t per_sample = static_cast<int64_t>(s.crs + s.kg) * s.pq * sizeof(float);
  s.chunk = static_cast<int>(std::clamp<int64_t>(kScratchBytesPerThread / per_sample, 1, g.n));
  return s;
}

// Input row (or column) that output position `o` and kernel tap `t` read; may fall
// into the padding (outside [0, size)).
inline int input_index(int o, int t, int stride, int pad, int dilation) {
  return o * stride - pad + t * dilation;
}

// Output columns q whose input column for tap j lies inside [0, w): [q0, q1).
void valid_columns(const Conv2dGeometry& g, int j, int& q0, int& q1) {
  const int offset = j * g.dilation_w - g.pad_left;  // input column of q = 0
  q0 = offset >= 0 ? 0 : (-offset + g.stride_w - 1) / g.stride_w;
  q1 = offset >= g.w ? 0 : std::min(g.q, (g.w - 1 - offset) / g.stride_w + 1);
  q0 = std::min(q0, g.q);
  q1 = std::max(q1, q0);
}

// Columns of one sample: col[(c*r + i)*s + j][p*q] at row stride `ld`
// = x[c][h(p,i)][w(q,j)], 0 in the padding, for the cg channels starting at x.
void im2col(const Conv2dGeometry& g, int cg, const float* x, float* col, int64_t ld) {
  for (int c = 0; c < cg; ++c) {
    const float* plane = x + static_cast<int64_t>(c) * g.h * g.w;
    for (int i = 0; i < g.r; ++i)
      for (int j = 0; j < g.s; ++j) {
        float* row = col + ((static_cast<int64_t>(c) * g.r + i) * g.s + j) * ld;
        int q0, q1;
        valid_columns(g, j, q0, q1);
        const int w_of_q0 = input_index(q0, j, g.stride_w, g.pad_left, g.dilation_w);
        for (int p = 0; p < g.p; ++p) {
          float* out = row + static_cast<int64_t>(p) * g.q;
          const int h = input_index(p, i, g.stride_h, g.pad_top, g.dilation_h);
          if (h < 0 || h >= g.h) {
            std::fill(out, out + g.q, 0.0f);
            continue;
          }
          std::fill(out, out + q0, 0.0f);
          const float* in = plane + static_cast<int64_t>(h) * g.w + w_of_q0;
          if (g.stride_w == 1) {
            std::copy(in, in + (q1 - q0), out + q0);
          } else {
            for (int q = q0; q < q1; ++q) out[q] = in[(q - q0) * g.stride_w];
          }
          std::fill(out + q1, out + g.q, 0.0f);
        }
      }
  }
}

// The adjoint of im2col for one sample: dx[c][h][w] += every col entry that read it.
void col2im_add(const Conv2dGeometry& g, int cg, const float* col, int64_t ld, float* dx) {
  for (int c = 0; c < cg; ++c) {
    float* plane = dx + static_cast<int64_t>(c) * g.h * g.w;
    for (int i = 0; i < g.r; ++i)
      for (int j = 0; j < g.s; ++j) {
        const float* row = col + ((static_cast<int64_t>(c) * g.r + i) * g.s + j) * ld;
        int q0, q1;
        valid_columns(g, j, q0, q1);
        const int w_of_q0 = input_index(q0, j, g.stride_w, g.pad_left, g.dilation_w);
        for (int p = 0; p < g.p; ++p) {
          const int h = input_index(p, i, g.stride_h, g.pad_top, g.dilation_h);
          if (h < 0 || h >= g.h) continue;
          const float* in = row + static_cast<int64_t>(p) * g.q;
          float* out = plane + static_cast<int64_t>(h) * g.w + w_of_q0;
          for (int q = q0; q < q1; ++q) out[(q - q0) * g.stride_w] += in[q];
        }
      }
  }
}

// im2col of group `grp` of samples [n0, n0 + count) side by side: col [crs x count*pq].
void im2col_samples(const Conv2dGeometry& g, const GroupSizes& s, const float* x, int grp,
                    int n0, int count, float* col) {
  const int64_t ld = static_cast<int64_t>(count) * s.pq;
  for (int b = 0; b < count; ++b) {
    const float* xg = x + (static_cast<int64_t>(n0 + b) * g.groups + grp) * s.x_group;
    im2col(g, s.cg, xg, col + static_cast<int64_t>(b) * s.pq, ld);
  }
}

// dy of group `grp` of samples [n0, n0 + count) side by side: out [kg x count*pq].
void gather_dy(const GroupSizes& s, int groups, const float* dy, int grp, int n0, int count,
               float* out) {
  const int64_t ld = static_cast<int64_t>(count) * s.pq;
  for (int b = 0; b < count; ++b) {
    const float* src = dy + (static_cast<int64_t>(n0 + b) * groups + grp) * s.y_group;
    for (int k = 0; k < s.kg; ++k)
      std::memcpy(out + k * ld + static_cast<int64_t>(b) * s.pq, src + static_cast<int64_t>(k) * s.pq,
                  sizeof(float) * s.pq);
  }
}

void conv2d_forward_gemm(const Conv2dGeometry& g, const float* x, const float* w,
                         const float* bias, float* y) {
  const GroupSizes s = group_sizes(g);
  SerialBlas serial;
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(s.crs) * s.chunk * s.pq);
    std::vector<float> out(static_cast<size_t>(s.kg) * s.chunk * s.pq);
    int begin, end;
    thread_range(g.n, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    for (int n0 = begin; n0 < end; n0 += s.chunk) {
      const int count = std::min(s.chunk, end - n0);
      const int64_t ld = static_cast<int64_t>(count) * s.pq;
      for (int grp = 0; grp < g.groups; ++grp) {
        im2col_samples(g, s, x, grp, n0, count, col.data());
        gemm_serial_row_major(Transpose::no, Transpose::no, s.kg, static_cast<int>(ld), s.crs,
                              1.0f, w + grp * s.w_group, s.crs, col.data(), static_cast<int>(ld),
                              0.0f, out.data(), static_cast<int>(ld));
        for (int b = 0; b < count; ++b) {
          float* yg = y + (static_cast<int64_t>(n0 + b) * g.groups + grp) * s.y_group;
          for (int k = 0; k < s.kg; ++k) {
            const float* src = out.data() + k * ld + static_cast<int64_t>(b) * s.pq;
            float* dst = yg + static_cast<int64_t>(k) * s.pq;
            const float add = bias ? bias[grp * s.kg + k] : 0.0f;
#pragma omp simd
            for (int i = 0; i < s.pq; ++i) dst[i] = src[i] + add;
          }
        }
      }
    }
  }
}

void conv2d_backward_data_gemm(const Conv2dGeometry& g, const float* dy, const float* w,
                               float* dx) {
  const GroupSizes s = group_sizes(g);
  SerialBlas serial;
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(s.crs) * s.chunk * s.pq);
    std::vector<float> dyc(static_cast<size_t>(s.kg) * s.chunk * s.pq);
    int begin, end;
    thread_range(g.n, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    for (int n0 = begin; n0 < end; n0 += s.chunk) {
      const int count = std::min(s.chunk, end - n0);
      const int64_t ld = static_cast<int64_t>(count) * s.pq;
      for (int grp = 0; grp < g.groups; ++grp) {
        gather_dy(s, g.groups, dy, grp, n0, count, dyc.data());
        // col [crs x count*pq] = W_g^T [crs x kg] * dy [kg x count*pq]
        gemm_serial_row_major(Transpose::yes, Transpose::no, s.crs, static_cast<int>(ld), s.kg,
                              1.0f, w + grp * s.w_group, s.crs, dyc.data(), static_cast<int>(ld),
                              0.0f, col.data(), static_cast<int>(ld));
        for (int b = 0; b < count; ++b) {
          float* dxg = dx + (static_cast<int64_t>(n0 + b) * g.groups + grp) * s.x_group;
          std::fill(dxg, dxg + s.x_group, 0.0f);
          col2im_add(g, s.cg, col.data() + static_cast<int64_t>(b) * s.pq, ld, dxg);
        }
      }
    }
  }
}

void conv2d_backward_filter_gemm(const Conv2dGeometry& g, const float* x, const float* dy,
                                 float* dw) {
  const GroupSizes s = group_sizes(g);
  const int64_t dw_size = s.w_group * g.groups;
  const int chunks = filter_chunks(g.n, static_cast<int64_t>(g.p) * g.q, kMinFilterColumns);
  std::vector<float> partial(static_cast<size_t>(chunks) * dw_size);
  SerialBlas serial;
#pragma omp parallel
  {
    std::vector<float> col(static_cast<size_t>(s.crs) * s.chunk * s.pq);
    std::vector<float> dyc(static_cast<size_t>(s.kg) * s.chunk * s.pq);
#pragma omp for schedule(static)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      float* acc = partial.data() + chunk * dw_size;
      int begin, end;
      thread_range(g.n, chunk, chunks, begin, end);
      for (int n0 = begin; n0 < end; n0 += s.chunk) {
        const int count = std::min(s.chunk, end - n0);
        const int ld = count * s.pq;
        for (int grp = 0; grp < g.groups; ++grp) {
          im2col_samples(g, s, x, grp, n0, count, col.data());
          gather_dy(s, g.groups, dy, grp, n0, count, dyc.data());
          // dW_g [kg x crs] (+)= dy [kg x count*pq] * col^T [count*pq x crs]
          gemm_serial_row_major(Transpose::no, Transpose::yes, s.kg, s.crs, ld, 1.0f, dyc.data(),
                                ld, col.data(), ld, n0 == begin ? 0.0f : 1.0f,
                                acc + grp * s.w_group, s.crs);
        }
      }
    }
    sum_chunks(partial.data(), chunks, dw_size, dw);
  }
}

bool use_direct(const Conv2dGeometry& g, ConvPass pass, ConvKernel kernel) {
  if (kernel == ConvKernel::automatic) return conv2d_direct_pays(g, pass);
  return kernel == ConvKernel::direct;
}

}  // namespace

void thread_range(int n, int t, int parts, int& begin, int& end) {
  begin = static_cast<int>(static_cast<int64_t>(n) * t / parts);
  end = static_cast<int>(static_cast<int64_t>(n) * (t + 1) / parts);
}

int filter_chunks(int n, int64_t units_per_sample, int64_t min_units_per_chunk) {
  constexpr int kMaxChunks = 16;  // partial gradients to add up at the end
  return static_cast<int>(std::clamp<int64_t>(n * units_per_sample / min_units_per_chunk, 1,
                                              std::min(n, kMaxChunks)));
}

void sum_chunks(const float* partial, int chunks, int64_t size, float* dw) {
#pragma omp for schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    float sum = partial[i];
    for (int chunk = 1; chunk < chunks; ++chunk) sum += partial[chunk * size + i];
    dw[i] = sum;
  }
}

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, ConvKernel kernel) {
  if (use_direct(g, ConvPass::forward, kernel)) return conv2d_forward_direct(g, x, w, bias, y);
  conv2d_forward_gemm(g, x, w, bias, y);
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          ConvKernel kernel) {
  if (use_direct(g, ConvPass::backward_data, kernel)) {
    return conv2d_backward_data_direct(g, dy, w, dx);
  }
  conv2d_backward_data_gemm(g, dy, w, dx);
}

void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw, ConvKernel kernel) {
  if (use_direct(g, ConvPass::backward_filter, kernel)) {
    return conv2d_backward_filter_direct(g, x, dy, dw);
  }
  conv2d_backward_filter_gemm(g, x, dy, dw);
}

void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db) {
  const int64_t pq = static_cast<int64_t>(g.p) * g.q;
#pragma omp parallel for schedule(static)
  for (int k = 0; k < g.k; ++k) {
    double sum = 0.0;
    for (int n = 0; n < g.n; ++n) {
      const float* plane = dy + (static_cast<int64_t>(n) * g.k + k) * pq;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < pq; ++i) sum += plane[i];
    }
    db[k] = static_cast<float>(sum);
  }
}

}  // namespace kiln::cpu
