// One OpenMP task per (n, c) plane. Backward scatters each window's gradient into
// its plane; a plane belongs to one thread, so the sums are deterministic.
#include "cpu/pool2d.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace kiln::cpu {

namespace {

struct Window {
  int h0, h1, w0, w1;
  int count() const { return (h1 - h0) * (w1 - w0); }
};

Window window_of(const Pool2dParams& p, int h, int w, int oy, int ox) {
  const int hs = oy * p.stride_h - p.pad_h, ws = ox * p.stride_w - p.pad_w;
  return Window{std::max(hs, 0), std::min(hs + p.kernel_h, h), std::max(ws, 0),
                std::min(ws + p.kernel_w, w)};
}

// Index in the plane of the window's first maximum (row-major order, strict >).
int first_maximum(const float* plane, int w, const Window& win) {
  int best = win.h0 * w + win.w0;
  for (int hh = win.h0; hh < win.h1; ++hh) {
    for (int ww = win.w0; ww < win.w1; ++ww) {
      if (plane[hh * w + ww] > plane[best]) best = hh * w + ww;
    }
  }
  return best;
}

}  // namespace

void pool2d_forward(int mode, const float* x, float* y, int n, int c, int h, int w, int oh,
                    int ow, const Pool2dParams& p) {
  const int64_t planes = static_cast<int64_t>(n) * c;
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* in = x + pl * h * w;
    float* out = y + pl * oh * ow;
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        const Window win = window_of(p, h, w, oy, ox);
        if (mode == 0) {
          out[oy * ow + ox] = in[first_maximum(in, w, win)];
          continue;
        }
        float sum = 0.0f;
        for (int hh = win.h0; hh < win.h1; ++hh) {
          for (int ww = win.w0; ww < win.w1; ++ww) sum += in[hh * w + ww];
        }
        out[oy * ow + ox] = sum / static_cast<float>(win.count());
      }
    }
  }
}

void pool2d_backward(int mode, const float* x, const float* dy, float* dx, int n, int c, int h,
                     int w, int oh, int ow, const Pool2dParams& p) {
  const int64_t planes = static_cast<int64_t>(n) * c;
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* in = x + pl * h * w;
    const float* grad_out = dy + pl * oh * ow;
    float* grad_in = dx + pl * h * w;
    std::memset(grad_in, 0, sizeof(float) * h * w);
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        const Window win = window_of(p, h, w, oy, ox);
        const float g = grad_out[oy * ow + ox];
        if (mode == 0) {
          grad_in[first_maximum(in, w, win)] += g;
          continue;
        }
        const float share = g / static_cast<float>(win.count());
        for (int hh = win.h0; hh < win.h1; ++hh) {
          for (int ww = win.w0; ww < win.w1; ++ww) grad_in[hh * w + ww] += share;
        }
      }
    }
  }
}

}  // namespace kiln::cpu
