// Max and average 2-D pooling, NCHW, forward and backward (see docs/OPS.md).
// Forward: one thread per output element (grid-stride over n*c*oh*ow, 256-thread
//   blocks); it scans its window in row-major order over the in-bounds positions.
//   Max keeps the first maximum (strict >), so ties and padding follow the one rule
//   every backend uses; avg divides by the in-bounds count (padding excluded).
// Backward: one thread per input element gathers from the output windows that cover
//   it, so no two threads write the same dx and no atomics are needed (the result
//   is deterministic). Max: x must equal the window's y and no earlier in-bounds
//   element of the window may equal it (that one would be the first maximum); a NaN
//   y is the window's first element, as the forward never replaces a leading NaN.
// No shared memory: neighbouring threads read overlapping windows, which the L1
// cache serves. Memory-bound (k*k loads, few flops per output).
// Versions: v1 only.
#include "kernels/common.cuh"
#include "kernels/pool2d.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

struct PoolShape {
  int h, w, oh, ow;
  int kh, kw, sh, sw, ph, pw;
};

PoolShape make_shape(int h, int w, int oh, int ow, const Pool2dParams& p) {
  return PoolShape{h, w, oh, ow, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w};
}

// The in-bounds part [h0, h1) x [w0, w1) of output (oy, ox)'s window.
struct Window {
  int h0, h1, w0, w1;
};

__device__ __forceinline__ Window window_of(const PoolShape& s, int oy, int ox) {
  const int hs = oy * s.sh - s.ph, ws = ox * s.sw - s.pw;
  return Window{max(hs, 0), min(hs + s.kh, s.h), max(ws, 0), min(ws + s.kw, s.w)};
}

__global__ void max_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                   int64_t total, PoolShape s) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int ox = static_cast<int>(i % s.ow), oy = static_cast<int>(i / s.ow % s.oh);
    const float* plane = x + i / (static_cast<int64_t>(s.oh) * s.ow) * s.h * s.w;
    const Window win = window_of(s, oy, ox);
    float best = plane[win.h0 * s.w + win.w0];
    for (int hh = win.h0; hh < win.h1; ++hh) {
      for (int ww = win.w0; ww < win.w1; ++ww) {
        const float v = plane[hh * s.w + ww];
        if (v > best) best = v;
      }
    }
    y[i] = best;
  }
}

__global__ void avg_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                   int64_t total, PoolShape s) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int ox = static_cast<int>(i % s.ow), oy = static_cast<int>(i / s.ow % s.oh);
    const float* plane = x + i / (static_cast<int64_t>(s.oh) * s.ow) * s.h * s.w;
    const Window win = window_of(s, oy, ox);
    float sum = 0.0f;
    for (int hh = win.h0; hh < win.h1; ++hh) {
      for (int ww = win.w0; ww < win.w1; ++ww) sum += plane[hh * s.w + ww];
    }
    y[i] = sum / static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
  }
}

// Output rows [first, last] whose windows cover input row `pos` (stride `st`,
// kernel `k`, padding `pad`, `out` outputs), clipped to the output.
__device__ __forceinline__ void covering(int pos, int k, int st, int pad, int out, int& first,
                                         int& last) {
  const int shifted = pos + pad;  // window o covers pos iff o*st <= shifted < o*st + k
  first = shifted < k ? 0 : (shifted - k) / st + 1;
  last = min(shifted / st, out - 1);
}

// True when (hh, ww) is the first maximum of its window: nothing in the window
// before it in row-major order equals `best`.
__device__ __forceinline__ bool first_maximum(const float* plane, const Window& win, int w,
                                              int hh, int ww, float best) {
  for (int r = win.h0; r <= hh; ++r) {
    const int end = r < hh ? win.w1 : ww;
    for (int col = win.w0; col < end; ++col) {
      if (plane[r * w + col] == best) return false;
    }
  }
  return true;
}

__global__ void max_backward_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                    const float* __restrict__ dy, float* __restrict__ dx,
                                    int64_t total, PoolShape s) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int ww = static_cast<int>(i % s.w), hh = static_cast<int>(i / s.w % s.h);
    const int64_t plane_index = i / (static_cast<int64_t>(s.h) * s.w);
    const float* plane = x + plane_index * s.h * s.w;
    const int64_t out_base = plane_index * s.oh * s.ow;
    const float v = x[i];
    int oy0, oy1, ox0, ox1;
    covering(hh, s.kh, s.sh, s.ph, s.oh, oy0, oy1);
    covering(ww, s.kw, s.sw, s.pw, s.ow, ox0, ox1);
    float grad = 0.0f;
    for (int oy = oy0; oy <= oy1; ++oy) {
      for (int ox = ox0; ox <= ox1; ++ox) {
        const int64_t o = out_base + oy * s.ow + ox;
        const Window win = window_of(s, oy, ox);
        // A NaN maximum is the window's first element (strict > never replaced it).
        const bool winner = y[o] != y[o] ? hh == win.h0 && ww == win.w0
                                         : y[o] == v && first_maximum(plane, win, s.w, hh, ww, v);
        if (winner) grad += dy[o];
      }
    }
    dx[i] = grad;
  }
}

__global__ void avg_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx,
                                    int64_t total, PoolShape s) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int ww = static_cast<int>(i % s.w), hh = static_cast<int>(i / s.w % s.h);
    const int64_t out_base = i / (static_cast<int64_t>(s.h) * s.w) * s.oh * s.ow;
    int oy0, oy1, ox0, ox1;
    covering(hh, s.kh, s.sh, s.ph, s.oh, oy0, oy1);
    covering(ww, s.kw, s.sw, s.pw, s.ow, ox0, ox1);
    float grad = 0.0f;
    for (int oy = oy0; oy <= oy1; ++oy) {
      for (int ox = ox0; ox <= ox1; ++ox) {
        const Window win = window_of(s, oy, ox);
        grad += dy[out_base + oy * s.ow + ox] /
                static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
      }
    }
    dx[i] = grad;
  }
}

}  // namespace

void pool2d_forward(int mode, const float* x, float* y, int n, int c, int h, int w, int oh,
                    int ow, const Pool2dParams& p, rt::Stream st) {
  const int64_t total = static_cast<int64_t>(n) * c * oh * ow;
  const PoolShape s = make_shape(h, w, oh, ow, p);
  const dim3 grid = grid_stride_grid(total, kThreads);
  if (mode == 0) return launch(max_forward_kernel, grid, dim3(kThreads), 0, st, x, y, total, s);
  launch(avg_forward_kernel, grid, dim3(kThreads), 0, st, x, y, total, s);
}

void pool2d_backward(int mode, const float* x, const float* y, const float* dy, float* dx, int n,
                     int c, int h, int w, int oh, int ow, const Pool2dParams& p, rt::Stream st) {
  const int64_t total = static_cast<int64_t>(n) * c * h * w;
  const PoolShape s = make_shape(h, w, oh, ow, p);
  const dim3 grid = grid_stride_grid(total, kThreads);
  if (mode == 0) {
    return launch(max_backward_kernel, grid, dim3(kThreads), 0, st, x, y, dy, dx, total, s);
  }
  launch(avg_backward_kernel, grid, dim3(kThreads), 0, st, dy, dx, total, s);
}

}  // namespace kiln::KILN_BACKEND
