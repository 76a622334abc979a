// Local response normalisation across channels (kiln/ops/lrn.h, docs/OPS.md).
// Forward, with W(c) = [c - (size-1)/2, c + size/2] clipped to [0, C):
//   scale_c = k + alpha/size * sum_{c' in W(c)} x_c'^2,   y_c = x_c * scale_c^-beta
// Backward: y_c' depends on x_c through its own x_c' (c' = c) and through scale_c'
// for every c' whose window holds c, i.e. c' in [c - size/2, c + (size-1)/2]:
//   d y_c' / d x_c = [c'=c] scale_c'^-beta
//                    - beta * x_c' * scale_c'^(-beta-1) * 2 alpha/size * x_c
// so, with x_c' scale_c'^(-beta-1) = y_c' / scale_c',
//   dx_c = dy_c scale_c^-beta - 2 alpha beta/size * x_c * sum_c' dy_c' y_c' / scale_c'.
// Block: 256 threads; thread: one element (n, c, pixel) per grid-stride step,
// reading `size` channel neighbours at stride h*w (consecutive threads take
// consecutive pixels, so every read is coalesced; the neighbours are re-read by the
// threads of the adjacent channels from L1/L2). No shared memory. Memory-bound.
// Versions: v1 only (a sliding window along c per pixel saves loads but serialises C).
#include "kernels/common.cuh"
#include "kernels/lrn.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

__global__ void lrn_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                   float* __restrict__ scale, int64_t total, int c, int64_t plane,
                                   LrnParams p) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int ch = static_cast<int>(i / plane % c);
    const int lo = max(ch - (p.size - 1) / 2, 0), hi = min(ch + p.size / 2, c - 1);
    const float* column = x + (i - static_cast<int64_t>(ch) * plane);  // channel 0 of this pixel
    float squares = 0.0f;
    for (int cc = lo; cc <= hi; ++cc) {
      const float v = column[cc * plane];
      squares += v * v;
    }
    const float s = p.k + p.alpha / static_cast<float>(p.size) * squares;
    scale[i] = s;
    y[i] = x[i] * powf(s, -p.beta);
  }
}

__global__ void lrn_backward_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                    const float* __restrict__ scale, const float* __restrict__ dy,
                                    float* __restrict__ dx, int64_t total, int c, int64_t plane,
                                    LrnParams p) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int ch = static_cast<int>(i / plane % c);
    const int lo = max(ch - p.size / 2, 0), hi = min(ch + (p.size - 1) / 2, c - 1);
    const int64_t base = i - static_cast<int64_t>(ch) * plane;
    float sum = 0.0f;
    for (int cc = lo; cc <= hi; ++cc) {
      const int64_t j = base + cc * plane;
      sum += dy[j] * y[j] / scale[j];
    }
    const float coeff = 2.0f * p.alpha * p.beta / static_cast<float>(p.size);
    dx[i] = dy[i] * powf(scale[i], -p.beta) - coeff * x[i] * sum;
  }
}

}  // namespace

void lrn_forward(const float* x, float* y, float* scale, int n, int c, int64_t plane,
                 const LrnParams& p, rt::Stream s) {
  const int64_t total = static_cast<int64_t>(n) * c * plane;
  launch(lrn_forward_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0, s, x, y, scale,
         total, c, plane, p);
}

void lrn_backward(const float* x, const float* y, const float* scale, const float* dy, float* dx,
                  int n, int c, int64_t plane, const LrnParams& p, rt::Stream s) {
  const int64_t total = static_cast<int64_t>(n) * c * plane;
  launch(lrn_backward_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0, s, x, y,
         scale, dy, dx, total, c, plane, p);
}

}  // namespace kiln::KILN_BACKEND
