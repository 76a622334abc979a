// One OpenMP task per (n, c) plane. Backward scatters each window's gradient into
// its plane; a plane belongs to one thread, so the sums are deterministic. Max
// backward finds each window's winner (first maximum in row-major order, strict >, as
// the forward and kernels/pool2d.cu) as the first element equal to the forward's
// output y, as the kernel does. Full 2x2/3x3 windows do it without branches (a bit
// mask of matches, lowest bit): on post-ReLU activations the winner's position is
// random: on such data (one thread) a compare-and-branch loop took 1.0 ms for LeNet-5's
// pool1 gradient and recomputing the maximum with its index (a dependent select
// chain) 0.5-0.6 ms, the mask 0.35-0.5 ms; 3x3 stride 2: ~2x faster than both. The common
// 2x2 and 3x3 kernels are compiled with constant window sizes so windows that lie
// wholly inside the plane are fully unrolled. Windows that tile the plane (stride =
// window, no padding: LeNet's pools) skip the memset and the scatter: each input is
// stored once (max_backward_tiled_plane), 2x2 four windows at a time.
#include "cpu/pool2d.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace kiln::cpu {

namespace {

struct Plane {
  int h, w, oh, ow;
};

// Calls visit(oy, ox, first, rows, cols, full) for each output: its window starts at
// plane index `first` and spans rows x cols after clipping; `full` when unclipped.
template <int KH, int KW, typename Visit>
void for_each_window(const Plane& pl, const Pool2dParams& p, Visit visit) {
  const int kh = KH ? KH : p.kernel_h, kw = KW ? KW : p.kernel_w;
  for (int oy = 0; oy < pl.oh; ++oy) {
    const int hs = oy * p.stride_h - p.pad_h;
    const int h0 = std::max(hs, 0), h1 = std::min(hs + kh, pl.h);
    for (int ox = 0; ox < pl.ow; ++ox) {
      const int ws = ox * p.stride_w - p.pad_w;
      const int w0 = std::max(ws, 0), w1 = std::min(ws + kw, pl.w);
      const bool full = h1 - h0 == kh && w1 - w0 == kw;
      visit(oy * pl.ow + ox, h0 * pl.w + w0, h1 - h0, w1 - w0, full);
    }
  }
}

// Visits the window's elements in row-major order.
template <int KH, int KW, typename Visit>
inline void for_each_element(int w, int first, int rows, int cols, bool full, Visit visit) {
  if (KH && KW && full) {  // constant trip counts: unrolled
    for (int i = 0; i < KH; ++i)
      for (int j = 0; j < KW; ++j) visit(first + i * w + j);
    return;
  }
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) visit(first + i * w + j);
}

// Value of the window's first maximum (row-major order, strict >). A select chain on
// values alone: tracking the index too made each step wait on a reload through it.
template <int KH, int KW>
inline float window_max(const float* in, int w, int first, int rows, int cols, bool full) {
  float best = in[first];
  for_each_element<KH, KW>(w, first, rows, cols, full, [&](int at) {
    const float v = in[at];
    best = v > best ? v : best;
  });
  return best;
}

// Plane index of the window's first maximum (row-major order, strict >), given the
// maximum `value` (the forward's output). A NaN maximum equals nothing: then the
// window's first element, as the forward's select chain keeps a leading NaN.
template <int KH, int KW>
inline int first_maximum(const float* in, int w, int first, int rows, int cols, bool full,
                         float value) {
  if (KH && KW && full) {
    // One bit per element equal to the maximum, and a sentinel bit past them for a
    // NaN maximum (the lowest set bit then maps to element 0); no branches.
    unsigned hits = 1u << (KH * KW);
    for (int i = 0; i < KH; ++i)
      for (int j = 0; j < KW; ++j)
        hits |= static_cast<unsigned>(in[first + i * w + j] == value) << (i * KW + j);
    const int k = __builtin_ctz(hits) % (KH * KW);
    return first + k / KW * w + k % KW;
  }
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      if (in[first + i * w + j] == value) return first + i * w + j;
  return first;
}

typedef float Float4 __attribute__((vector_size(16)));
typedef int32_t Mask4 __attribute__((vector_size(16)));

// Rows x[0..8) and x[w..w+8) of four 2x2 windows, split into their four elements.
struct Windows2x2 {
  Float4 e00, e01, e10, e11;
};

inline Windows2x2 load_windows_2x2(const float* x, int w) {
  Float4 r0a, r0b, r1a, r1b;
  std::memcpy(&r0a, x, 16);
  std::memcpy(&r0b, x + 4, 16);
  std::memcpy(&r1a, x + w, 16);
  std::memcpy(&r1b, x + w + 4, 16);
  return {__builtin_shufflevector(r0a, r0b, 0, 2, 4, 6),
          __builtin_shufflevector(r0a, r0b, 1, 3, 5, 7),
          __builtin_shufflevector(r1a, r1b, 0, 2, 4, 6),
          __builtin_shufflevector(r1a, r1b, 1, 3, 5, 7)};
}

// Max of 2x2 windows, stride 2, no padding (every window full), four at a time (SSE2
// width): the same select chain as window_max, lane-wise. LeNet-5's pool1 forward in
// a step (`kiln time`, 2 threads): 0.21 -> 0.08 ms.
void max_forward_2x2_plane(const float* in, float* out, const Plane& pl) {
  for (int oy = 0; oy < pl.oh; ++oy) {
    const float* x = in + int64_t{oy} * 2 * pl.w;
    float* y = out + int64_t{oy} * pl.ow;
    int ox = 0;
    for (; ox + 4 <= pl.ow; ox += 4) {
      const Windows2x2 v = load_windows_2x2(x + ox * 2, pl.w);
      Float4 best = v.e00;
      best = v.e01 > best ? v.e01 : best;
      best = v.e10 > best ? v.e10 : best;
      best = v.e11 > best ? v.e11 : best;
      std::memcpy(y + ox, &best, 16);
    }
    for (; ox < pl.ow; ++ox) y[ox] = window_max<2, 2>(x, pl.w, ox * 2, 2, 2, true);
  }
}

template <int KH, int KW>
void forward_plane(int mode, const float* in, float* out, const Plane& pl, const Pool2dParams& p) {
  if (KH == 2 && KW == 2 && mode == 0 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
      p.pad_w == 0)
    return max_forward_2x2_plane(in, out, pl);
  for_each_window<KH, KW>(pl, p, [&](int o, int first, int rows, int cols, bool full) {
    if (mode == 0) {
      out[o] = window_max<KH, KW>(in, pl.w, first, rows, cols, full);
      return;
    }
    float sum = 0.0f;
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) sum += in[first + i * pl.w + j];
    out[o] = sum / static_cast<float>(rows * cols);
  });
}

// True when the windows cover the plane exactly once each (stride = window, no padding,
// no leftover rows or columns), as LeNet's 2x2 pools do.
bool windows_tile_plane(const Plane& pl, const Pool2dParams& p) {
  return p.stride_h == p.kernel_h && p.stride_w == p.kernel_w && p.pad_h == 0 && p.pad_w == 0 &&
         pl.h == pl.oh * p.kernel_h && pl.w == pl.ow * p.kernel_w;
}

// Max backward on windows that tile the plane, with constant sizes: every input gets
// exactly one plain store (its window's gradient or zero), so no memset and no
// read-modify-write of grad_in. The winner is first_maximum's (its bit mask), the
// stores select by integer masks: no branches, as on post-ReLU data the winner's
// position is random and compare-and-branch code mispredicts it.
template <int KH, int KW>
inline void max_backward_tiled_window(const float* x, int w, float y, float dy, float* dx) {
  const int winner = first_maximum<KH, KW>(x, w, 0, KH, KW, true, y);
  uint32_t g;
  std::memcpy(&g, &dy, sizeof g);
  for (int i = 0; i < KH; ++i)
    for (int j = 0; j < KW; ++j) {
      const uint32_t bits = g & (0u - static_cast<uint32_t>(i * w + j == winner));
      std::memcpy(dx + i * w + j, &bits, sizeof bits);
    }
}

// Four 2x2 windows at once (SSE2 width, every x86-64 has it): the same masks lane-wise.
inline void max_backward_2x2_four(const float* x, int w, const float* y, const float* dy,
                                  float* dx) {
  Float4 m, g;
  std::memcpy(&m, y, 16);
  std::memcpy(&g, dy, 16);
  const Windows2x2 v = load_windows_2x2(x, w);
  const Mask4 e00 = v.e00 == m, e01 = v.e01 == m, e10 = v.e10 == m, e11 = v.e11 == m;
  const Mask4 gi = reinterpret_cast<Mask4>(g);
  const Mask4 d00 = gi & (e00 | ~(e01 | e10 | e11));
  const Mask4 d01 = gi & e01 & ~e00;
  const Mask4 d10 = gi & e10 & ~(e00 | e01);
  const Mask4 d11 = gi & e11 & ~(e00 | e01 | e10);
  const Mask4 row0a = __builtin_shufflevector(d00, d01, 0, 4, 1, 5);
  const Mask4 row0b = __builtin_shufflevector(d00, d01, 2, 6, 3, 7);
  const Mask4 row1a = __builtin_shufflevector(d10, d11, 0, 4, 1, 5);
  const Mask4 row1b = __builtin_shufflevector(d10, d11, 2, 6, 3, 7);
  std::memcpy(dx, &row0a, 16);
  std::memcpy(dx + 4, &row0b, 16);
  std::memcpy(dx + w, &row1a, 16);
  std::memcpy(dx + w + 4, &row1b, 16);
}

// LeNet-5's pool1 gradient inside a training step (`kiln time`, one thread, avx2): 1.2
// ms with the general path (memset, then a search and a read-modify-write per window),
// 0.6 with the masks a window at a time, 0.22 four at a time (libtorch alone: 0.26-0.37).
template <int KH, int KW>
void max_backward_tiled_plane(const float* in, const float* out, const float* grad_out,
                              float* grad_in, const Plane& pl) {
  for (int oy = 0; oy < pl.oh; ++oy) {
    const int64_t row = int64_t{oy} * KH * pl.w, o = int64_t{oy} * pl.ow;
    int ox = 0;
    if (KH == 2 && KW == 2)
      for (; ox + 4 <= pl.ow; ox += 4)
        max_backward_2x2_four(in + row + ox * 2, pl.w, out + o + ox, grad_out + o + ox,
                              grad_in + row + ox * 2);
    for (; ox < pl.ow; ++ox)
      max_backward_tiled_window<KH, KW>(in + row + ox * KW, pl.w, out[o + ox],
                                        grad_out[o + ox], grad_in + row + ox * KW);
  }
}

template <int KH, int KW>
void backward_plane(int mode, const float* in, const float* out, const float* grad_out,
                    float* grad_in, const Plane& pl, const Pool2dParams& p) {
  if (KH && KW && mode == 0 && windows_tile_plane(pl, p))
    return max_backward_tiled_plane<KH, KW>(in, out, grad_out, grad_in, pl);
  std::memset(grad_in, 0, sizeof(float) * pl.h * pl.w);
  for_each_window<KH, KW>(pl, p, [&](int o, int first, int rows, int cols, bool full) {
    if (mode == 0) {
      grad_in[first_maximum<KH, KW>(in, pl.w, first, rows, cols, full, out[o])] += grad_out[o];
      return;
    }
    const float share = grad_out[o] / static_cast<float>(rows * cols);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) grad_in[first + i * pl.w + j] += share;
  });
}

template <int KH, int KW>
void forward_planes(int mode, const float* x, float* y, int64_t planes, const Plane& pl,
                    const Pool2dParams& p) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < planes; ++i) {
    forward_plane<KH, KW>(mode, x + i * pl.h * pl.w, y + i * pl.oh * pl.ow, pl, p);
  }
}

template <int KH, int KW>
void backward_planes(int mode, const float* x, const float* y, const float* dy, float* dx,
                     int64_t planes, const Plane& pl, const Pool2dParams& p) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < planes; ++i) {
    const int64_t in = i * pl.h * pl.w, out = i * pl.oh * pl.ow;
    backward_plane<KH, KW>(mode, x + in, y + out, dy + out, dx + in, pl, p);
  }
}

// 2x2 and 3x3 windows get constant sizes; others are read at run time (0).
int constant_kernel(const Pool2dParams& p) {
  const bool square = p.kernel_h == p.kernel_w;
  return square && (p.kernel_h == 2 || p.kernel_h == 3) ? p.kernel_h : 0;
}

}  // namespace

void pool2d_forward(int mode, const float* x, float* y, int n, int c, int h, int w, int oh,
                    int ow, const Pool2dParams& p) {
  const int64_t planes = static_cast<int64_t>(n) * c;
  const Plane pl{h, w, oh, ow};
  switch (constant_kernel(p)) {
    case 2: return forward_planes<2, 2>(mode, x, y, planes, pl, p);
    case 3: return forward_planes<3, 3>(mode, x, y, planes, pl, p);
    default: return forward_planes<0, 0>(mode, x, y, planes, pl, p);
  }
}

void pool2d_backward(int mode, const float* x, const float* y, const float* dy, float* dx, int n,
                     int c, int h, int w, int oh, int ow, const Pool2dParams& p) {
  const int64_t planes = static_cast<int64_t>(n) * c;
  const Plane pl{h, w, oh, ow};
  switch (constant_kernel(p)) {
    case 2: return backward_planes<2, 2>(mode, x, y, dy, dx, planes, pl, p);
    case 3: return backward_planes<3, 3>(mode, x, y, dy, dx, planes, pl, p);
    default: return backward_planes<0, 0>(mode, x, y, dy, dx, planes, pl, p);
  }
}

}  // namespace kiln::cpu
