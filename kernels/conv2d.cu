// 2-D convolution (NCHW, groups, dilation, asymmetric padding): forward, backward-data,
// backward-filter and bias gradient.
//
// Version ladder (each checked against the double reference in tests/ops/conv2d_test.cpp):
//   v1 direct: one thread per output element (y for forward, dx for backward-data, dw for
//      backward-filter) looping over its receptive field in registers; 256-thread blocks,
//      grid-stride, no shared memory. The readable baseline; bound by memory latency
//      (every product reloads both operands, cached only by L1/L2). Backward-filter has
//      one thread per weight, too few for a GPU on depthwise layers (K*R*S weights
//      summing N*P*Q products each), so it splits the N*P output rows like the implicit
//      GEMM splits its depth (below): partial dw per slice, summed in order.
//   v2 implicit GEMM (replaced by v3): the GEMM below with one float per shared load
//      (8 loads per 16 FMAs), per-element integer division in the operand gathers, a
//      single shared stage (two barriers per step) and A rows padded to 65 floats (still
//      2-way store conflicts).
//   v3 implicit GEMM: each pass is a GEMM C[M x N] = A[M x D] * B[D x N] per group whose
//      operands are gathered on the fly from the tensors (no im2col buffer):
//        forward          M = K/G (filters), N = N*P*Q (output pixels), D = C/G*R*S
//        backward-data    M = C/G (channels), N = N*H*W (input pixels),  D = K/G*R*S
//        backward-filter  M = K/G (filters), N = C/G*R*S (taps),         D = N*P*Q
//      A block of 256 threads computes a 64x64 tile of C; thread (ty, tx) = (t/16, t%16)
//      keeps the 4x4 register tile of rows ty*4.. and columns tx*4.., so per depth index
//      it reads one float4 of A and one of B from shared memory for 16 FMAs. Per 16-deep
//      step the block stages A[64x16] (transposed, rows padded to 68 floats: a warp's
//      stores of 8 depths x 4 rows hit 32 banks, and the float4s stay aligned) and
//      B[16x64] (a warp stores 32 neighbouring columns) in one of two shared stages
//      (16.5 KiB): while the FMAs run on one stage the thread's global loads for the next
//      step land in registers, and go to the other stage before the step's only barrier.
//      Global loads coalesce where the tensor is contiguous: A in 8-depth (32-byte)
//      runs, B along the columns (neighbouring pixels). Each thread's B column is fixed,
//      so its (n, p, q) decomposition is done once; its depth indices advance by a fixed
//      step, so the tap/channel digits of d (c, r, s or n, p, q) advance with at most one
//      carry per digit (DepthWalker) and the main loop divides only for strided
//      backward-data, by a multiply-high with a precomputed magic number. Compute-bound
//      on large layers. One block per 64x64 tile is a small grid when M*N is small
//      (backward-filter's filters x taps; forward and backward-data on small images,
//      batches or channel counts), so every pass splits D over several slices (split-K,
//      below), each slice writing its own partial C into a workspace from the caller;
//      sum_splits_kernel adds the slices in order, so the result is deterministic (no
//      atomics). Forward adds the bias to slice 0's partial only.
//   bias gradient: one 256-thread block per channel sums N*P*Q values in registers and
//      combines them with warp shuffles (block_sum); with few channels each channel's
//      values are split over several blocks (below), partials summed in order as for
//      split-K. Deterministic, memory-bound.
//
// Split rule (split_sum; also in docs/KERNELS.md): a sum of T terms computed by B
// blocks is cut into min(ceil(kTargetBlocks / B), T / minimum slice, kMaxSplits)
// slices, none when that is 1 (kTargetBlocks = 264 is two waves of an H100's 132 SMs):
//   implicit GEMM: B = the tile grid, ceil(M/64) * ceil(N/64) * groups; T = D; minimum
//      8 steps (128 depths); the slice length is rounded up to whole steps and the
//      count recomputed from it, so the last slice may be shorter but none is empty.
//      Only grids under 264 tiles split, and only with D >= 256 (LeNet-5's D = 150
//      forward does not);
//   bias gradient: B = K (one block per channel); T = N*P*Q; minimum 2,048 (8 values
//      per thread);
//   direct backward-filter: see v1 (per-weight threads rather than blocks, minimum 4
//      output rows).
//
// Selection rule (ConvKernel::automatic; also in docs/KERNELS.md, "## conv2d"): a 64x64
// tile only pays when the GEMM fills a useful share of it, so
//   forward:         implicit GEMM when K/G >= 16 and C/G*R*S >= 16, else direct;
//   backward-data:   implicit GEMM when C/G >= 16 and K/G*R*S >= 16, else direct;
//   backward-filter: implicit GEMM when K/G >= 4 and C/G*R*S >= 4, else direct (direct
//      has only one thread per weight, each summing N*P*Q products, so split-K implicit
//      GEMM wins even at low tile occupancy; depthwise layers stay direct).
#include <algorithm>

#include "kernels/common.cuh"
#include "kernels/conv2d.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;
constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadTile = 4;                           // 4x4 outputs per thread
constexpr int kThreadsPerRow = kTileN / kThreadTile;     // 16
// A is stored transposed ([depth][row]) so a thread's 4 rows are one float4; the row
// stride is padded to 4 (mod 32) banks, which makes the stores conflict-free (see
// implicit_gemm_kernel) and keeps each float4 16-byte aligned.
constexpr int kAStride = kTileM + 4;
constexpr int kADepths = 8;                                     // depths per A load round
constexpr int kALoadDepths = kTileK / kADepths;                 // 2
constexpr int kALoadRows = kTileM * kADepths / kThreads;        // 2
constexpr int kBLoads = kTileK * kTileN / kThreads;             // 4
constexpr int kStageFloats = kTileK * kAStride + kTileK * kTileN;
constexpr int kSharedFloats = 2 * kStageFloats;                 // double-buffered: 16.5 KiB
constexpr int kMaxSplits = 64;
constexpr int kTargetBlocks = 264;  // two waves of an H100's 132 SMs
constexpr int kMinSliceSteps = 8;   // split-K: kTileK steps per depth slice, at least
constexpr int kMinBiasSlice = 8 * kThreads;  // bias gradient: values per slice, at least
static_assert(kThreadsPerRow * kThreadsPerRow == kThreads, "one thread per 4x4 sub-tile");
static_assert(kThreads % kTileN == 0 && kThreads % kADepths == 0,
              "a thread's load column (B) and load depth (A) stay fixed across its loads");
static_assert(kAStride % 32 == 4 && kStageFloats % 4 == 0, "float4 reads, conflict-free stores");

__host__ __device__ inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

// ---- v1: direct ------------------------------------------------------------------------

__global__ void forward_direct_kernel(Conv2dGeometry g, const float* __restrict__ x,
                                      const float* __restrict__ w,
                                      const float* __restrict__ bias, float* __restrict__ y) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  const int64_t total = static_cast<int64_t>(g.n) * g.k * g.p * g.q;
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int q = static_cast<int>(i % g.q);
    const int p = static_cast<int>(i / g.q % g.p);
    const int k = static_cast<int>(i / (static_cast<int64_t>(g.q) * g.p) % g.k);
    const int n = static_cast<int>(i / (static_cast<int64_t>(g.q) * g.p * g.k));
    const int c0 = k / kg * cg;
    const float* wk = w + static_cast<int64_t>(k) * cg * g.r * g.s;
    float acc = bias ? bias[k] : 0.0f;
    for (int c = 0; c < cg; ++c) {
      const float* plane = x + (static_cast<int64_t>(n) * g.c + c0 + c) * g.h * g.w;
      for (int r = 0; r < g.r; ++r) {
        const int h = p * g.stride_h - g.pad_top + r * g.dilation_h;
        if (h < 0 || h >= g.h) continue;
        for (int s = 0; s < g.s; ++s) {
          const int col = q * g.stride_w - g.pad_left + s * g.dilation_w;
          if (col >= 0 && col < g.w) acc += plane[h * g.w + col] * wk[(c * g.r + r) * g.s + s];
        }
      }
    }
    y[i] = acc;
  }
}

__global__ void backward_data_direct_kernel(Conv2dGeometry g, const float* __restrict__ dy,
                                            const float* __restrict__ w,
                                            float* __restrict__ dx) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  const int64_t total = static_cast<int64_t>(g.n) * g.c * g.h * g.w;
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int col = static_cast<int>(i % g.w);
    const int h = static_cast<int>(i / g.w % g.h);
    const int c = static_cast<int>(i / (static_cast<int64_t>(g.w) * g.h) % g.c);
    const int n = static_cast<int>(i / (static_cast<int64_t>(g.w) * g.h * g.c));
    const int group = c / cg, cl = c % cg;
    float acc = 0.0f;
    for (int kl = 0; kl < kg; ++kl) {
      const int k = group * kg + kl;
      const float* plane = dy + (static_cast<int64_t>(n) * g.k + k) * g.p * g.q;
      const float* wkc = w + (static_cast<int64_t>(k) * cg + cl) * g.r * g.s;
      for (int r = 0; r < g.r; ++r) {
        const int hp = h + g.pad_top - r * g.dilation_h;  // = p * stride_h when p exists
        if (hp < 0 || hp % g.stride_h != 0 || hp / g.stride_h >= g.p) continue;
        for (int s = 0; s < g.s; ++s) {
          const int wq = col + g.pad_left - s * g.dilation_w;
          if (wq < 0 || wq % g.stride_w != 0 || wq / g.stride_w >= g.q) continue;
          acc += plane[hp / g.stride_h * g.q + wq / g.stride_w] * wkc[r * g.s + s];
        }
      }
    }
    dx[i] = acc;
  }
}

// Split `splits` ways over the N*P output rows (n, p), each split writing its own
// partial dw (out[split][weight]); with one split, out is dw.
__global__ void backward_filter_direct_kernel(Conv2dGeometry g, const float* __restrict__ x,
                                              const float* __restrict__ dy, int splits,
                                              float* __restrict__ out) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  const int64_t weights = static_cast<int64_t>(g.k) * cg * g.r * g.s;
  const int rows = g.n * g.p, per_split = ceil_div(rows, splits);
  KILN_GRID_STRIDE_LOOP(i, weights * splits) {
    const int64_t weight = i % weights;
    const int split = static_cast<int>(i / weights);
    const int s = static_cast<int>(weight % g.s);
    const int r = static_cast<int>(weight / g.s % g.r);
    const int cl = static_cast<int>(weight / (g.s * g.r) % cg);
    const int k = static_cast<int>(weight / (static_cast<int64_t>(g.s) * g.r * cg));
    const int c = k / kg * cg + cl;
    const int row_end = (split + 1) * per_split < rows ? (split + 1) * per_split : rows;
    float acc = 0.0f;
    for (int row = split * per_split; row < row_end; ++row) {
      const int n = row / g.p, p = row % g.p;
      const int h = p * g.stride_h - g.pad_top + r * g.dilation_h;
      if (h < 0 || h >= g.h) continue;
      const float* xrow = x + ((static_cast<int64_t>(n) * g.c + c) * g.h + h) * g.w;
      const float* dyrow = dy + ((static_cast<int64_t>(n) * g.k + k) * g.p + p) * g.q;
      for (int q = 0; q < g.q; ++q) {
        const int col = q * g.stride_w - g.pad_left + s * g.dilation_w;
        if (col >= 0 && col < g.w) acc += xrow[col] * dyrow[q];
      }
    }
    out[i] = acc;
  }
}

// ---- v3: implicit GEMM -----------------------------------------------------------------
// Each pass describes its GEMM to implicit_gemm_kernel: sizes, where A's rows start
// (a_row) and how A's depth index maps to an offset (a_digits), the per-column state a
// thread computes once (Column), how B's depth index splits into digits (b_digits), b()
// and store(). Out-of-image taps read as zero, which is the zero padding.

// A depth index d = (i2 * r1 + i1) * r0 + i0 as mixed-radix digits, and the tensor
// offset they select, i2 * s2 + i1 * s1 + i0 * s0.
struct Digits {
  int r1, r0;
  int64_t s2, s1, s0;
};

// One thread's position in the depth: its digits and offset, advanced by a fixed
// step with at most one carry per digit (the step's own digits are below each radix),
// so the gathers divide only once, before the main loop.
struct DepthWalker {
  int i1, i0;
  int64_t offset;
  // The step, split into digits, and the offset change of each carry.
  int step1, step0;
  int64_t step_offset, carry0, carry1;

  __device__ DepthWalker(const Digits& g, int d, int step) {
    const int r10 = g.r1 * g.r0;
    i1 = d % r10 / g.r0;
    i0 = d % g.r0;
    offset = d / r10 * g.s2 + i1 * g.s1 + i0 * g.s0;
    step1 = step % r10 / g.r0;
    step0 = step % g.r0;
    step_offset = step / r10 * g.s2 + step1 * g.s1 + step0 * g.s0;
    carry0 = g.s1 - g.r0 * g.s0;
    carry1 = g.s2 - g.r1 * g.s1;
  }
  __device__ void advance(const Digits& g) {
    i0 += step0;
    i1 += step1;
    offset += step_offset;
    if (i0 >= g.r0) {
      i0 -= g.r0;
      ++i1;
      offset += carry0;
    }
    if (i1 >= g.r1) {
      i1 -= g.r1;
      offset += carry1;
    }
  }
};

// n / d for 0 <= n < 2^31 by a multiply-high and a shift (Granlund and Montgomery):
// the strided backward-data gather divides by the stride per element.
struct Divisor {
  int d;
  unsigned magic;
  int shift;
};
Divisor divisor(int d) {
  int shift = 0;
  while ((1LL << shift) < d) ++shift;
  const uint64_t magic = ((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1;
  return {d, static_cast<unsigned>(magic), shift};
}
__device__ inline int divide(int n, const Divisor& v) {
  const unsigned high =
      static_cast<unsigned>((static_cast<uint64_t>(static_cast<unsigned>(n)) * v.magic) >> 32);
  return static_cast<int>((high + static_cast<unsigned>(n)) >> v.shift);
}

// 0 <= i < n in one comparison.
__device__ inline bool inside(int i, int n) {
  return static_cast<unsigned>(i) < static_cast<unsigned>(n);
}

struct ForwardGemm {
  Conv2dGeometry g;
  const float* x;
  const float* w;
  const float* bias;
  float* out;            // y, or the split-K partials
  int64_t split_stride;  // floats between two splits' partials

  struct Column {
    int64_t x_offset;  // input pixel of tap (0, 0) in sample n's first channel of the group
    int h0, w0;
  };
  __device__ int rows() const { return g.k / g.groups; }
  __device__ int cols() const { return g.n * g.p * g.q; }
  __device__ int depth() const { return g.c / g.groups * g.r * g.s; }
  __device__ const float* a_tensor() const { return w; }
  __device__ int64_t a_row(int group, int row) const {
    return static_cast<int64_t>(group * rows() + row) * depth();
  }
  __device__ Digits a_digits() const { return {1, 1, 1, 0, 0}; }
  // d = (c * R + r) * S + s
  __device__ Digits b_digits() const {
    return {g.r, g.s, static_cast<int64_t>(g.h) * g.w, g.dilation_h * g.w, g.dilation_w};
  }
  __device__ Column column(int group, int col) const {
    const int pq = g.p * g.q, n = col / pq, p = col % pq / g.q, q = col % g.q;
    const int h0 = p * g.stride_h - g.pad_top, w0 = q * g.stride_w - g.pad_left;
    return {(static_cast<int64_t>(n) * g.c + group * (g.c / g.groups)) * g.h * g.w +
                static_cast<int64_t>(h0) * g.w + w0,
            h0, w0};
  }
  __device__ float b(const DepthWalker& d, const Column& col) const {
    if (!inside(col.h0 + d.i1 * g.dilation_h, g.h) || !inside(col.w0 + d.i0 * g.dilation_w, g.w))
      return 0.0f;
    return x[col.x_offset + d.offset];
  }
  // The bias goes into split 0's partial, so the sum of the splits holds it once.
  __device__ void store(int group, int split, int row, int col, float v) const {
    const int k = group * rows() + row, pq = g.p * g.q, n = col / pq;
    out[split * split_stride + (static_cast<int64_t>(n) * g.k + k) * pq + col % pq] =
        bias && split == 0 ? v + bias[k] : v;
  }
};

struct BackwardDataGemm {
  Conv2dGeometry g;
  const float* dy;
  const float* w;
  float* out;            // dx, or the split-K partials
  int64_t split_stride;  // floats between two splits' partials
  Divisor stride_h, stride_w;

  struct Column {
    int64_t dy_offset;  // sample n's first output channel of the group
    int h, w;           // the input pixel this column computes, shifted by the padding
  };
  __device__ int rows() const { return g.c / g.groups; }
  __device__ int cols() const { return g.n * g.h * g.w; }
  __device__ int depth() const { return g.k / g.groups * g.r * g.s; }
  __device__ const float* a_tensor() const { return w; }
  __device__ int64_t a_row(int group, int row) const {
    return (static_cast<int64_t>(group) * (g.k / g.groups) * rows() + row) * g.r * g.s;
  }
  // d = kl * RS + tap: filter kl's weights for this channel, RS apart
  __device__ Digits a_digits() const {
    return {1, g.r * g.s, static_cast<int64_t>(rows()) * g.r * g.s, 0, 1};
  }
  // d = (kl * R + r) * S + s
  __device__ Digits b_digits() const {
    return {g.r, g.s, static_cast<int64_t>(g.p) * g.q, 0, 0};
  }
  __device__ Column column(int group, int col) const {
    const int hw = g.h * g.w, n = col / hw;
    return {(static_cast<int64_t>(n) * g.k + group * (g.k / g.groups)) * g.p * g.q,
            col % hw / g.w + g.pad_top, col % g.w + g.pad_left};
  }
  __device__ float b(const DepthWalker& d, const Column& col) const {
    const int hp = col.h - d.i1 * g.dilation_h, wq = col.w - d.i0 * g.dilation_w;
    if (hp < 0 || wq < 0) return 0.0f;
    const int p = divide(hp, stride_h), q = divide(wq, stride_w);
    if (p * stride_h.d != hp || q * stride_w.d != wq || p >= g.p || q >= g.q) return 0.0f;
    return dy[col.dy_offset + d.offset + p * g.q + q];
  }
  __device__ void store(int group, int split, int row, int col, float v) const {
    const int c = group * rows() + row, hw = g.h * g.w, n = col / hw;
    out[split * split_stride + (static_cast<int64_t>(n) * g.c + c) * hw + col % hw] = v;
  }
};

struct BackwardFilterGemm {
  Conv2dGeometry g;
  const float* x;
  const float* dy;
  float* out;            // dw, or the split-K partials
  int64_t split_stride;  // floats between two splits' partials

  struct Column {
    int64_t x_offset;  // input pixel of output pixel (0, 0) in channel c of sample 0
    int h0, w0;
  };
  __device__ int rows() const { return g.k / g.groups; }
  __device__ int cols() const { return g.c / g.groups * g.r * g.s; }
  __device__ int depth() const { return g.n * g.p * g.q; }
  __device__ const float* a_tensor() const { return dy; }
  __device__ int64_t a_row(int group, int row) const {
    return static_cast<int64_t>(group * rows() + row) * g.p * g.q;
  }
  // d = n * PQ + pixel
  __device__ Digits a_digits() const {
    return {1, g.p * g.q, static_cast<int64_t>(g.k) * g.p * g.q, 0, 1};
  }
  // d = (n * P + p) * Q + q
  __device__ Digits b_digits() const {
    return {g.p, g.q, static_cast<int64_t>(g.c) * g.h * g.w, g.stride_h * g.w, g.stride_w};
  }
  __device__ Column column(int group, int col) const {
    const int rs = g.r * g.s, c = group * (g.c / g.groups) + col / rs;
    const int h0 = col % rs / g.s * g.dilation_h - g.pad_top;
    const int w0 = col % g.s * g.dilation_w - g.pad_left;
    return {static_cast<int64_t>(c) * g.h * g.w + static_cast<int64_t>(h0) * g.w + w0, h0, w0};
  }
  __device__ float b(const DepthWalker& d, const Column& col) const {
    if (!inside(col.h0 + d.i1 * g.stride_h, g.h) || !inside(col.w0 + d.i0 * g.stride_w, g.w))
      return 0.0f;
    return x[col.x_offset + d.offset];
  }
  __device__ void store(int group, int split, int row, int col, float v) const {
    out[split * split_stride + static_cast<int64_t>(group * rows() + row) * cols() + col] = v;
  }
};

// Grid: (column tiles, row tiles, groups * splits); split-K gives split s the depths
// [s * slice, (s + 1) * slice), slice a whole number of kTileK steps.
template <class Gemm>
__global__ void __launch_bounds__(kThreads) implicit_gemm_kernel(Gemm gemm, int splits,
                                                                 int slice) {
  KILN_DYNAMIC_SHARED(float, shared);  // two stages of kStageFloats
  const int group = blockIdx.z / splits, split = blockIdx.z % splits;
  const int row0 = blockIdx.y * kTileM, col0 = blockIdx.x * kTileN;
  const int rows = gemm.rows(), cols = gemm.cols(), depth = gemm.depth();
  const int d_begin = split * slice;
  const int d_end = d_begin + slice < depth ? d_begin + slice : depth;
  const int t = threadIdx.x;

  // This thread's A loads: depths a_d + 8j of rows a_row + 32i, so a warp stores 8
  // depths of 4 rows: with the row stride kAStride = 4 (mod 32) those are 32 banks.
  constexpr int kARowsApart = kThreads / kADepths;
  const int a_d = t % kADepths, a_row = t / kADepths;
  const float* a_tensor = gemm.a_tensor();
  const Digits a_digits = gemm.a_digits();
  int64_t a_offset[kALoadRows];
  bool a_inside[kALoadRows];
#pragma unroll
  for (int i = 0; i < kALoadRows; ++i) {
    const int row = row0 + a_row + i * kARowsApart;
    a_inside[i] = row < rows;
    a_offset[i] = a_inside[i] ? gemm.a_row(group, row) : 0;
  }
  DepthWalker a_walk(a_digits, d_begin + a_d, kADepths);
  // This thread's B loads: column b_col at depths b_d + 4j, so a warp stores 32
  // neighbouring columns and loads neighbouring pixels.
  constexpr int kBDepthsApart = kThreads / kTileN;
  const int b_col = t % kTileN, b_d = t / kTileN;
  const bool b_inside = col0 + b_col < cols;
  const typename Gemm::Column column =
      b_inside ? gemm.column(group, col0 + b_col) : typename Gemm::Column{};
  const Digits b_digits = gemm.b_digits();
  DepthWalker b_walk(b_digits, d_begin + b_d, kBDepthsApart);

  // The next step's operands wait in registers while the current step computes.
  float a_next[kALoadDepths][kALoadRows], b_next[kBLoads];
  auto load = [&](int d0) {
#pragma unroll
    for (int j = 0; j < kALoadDepths; ++j) {
      const bool d_inside = d0 + a_d + j * kADepths < d_end;
#pragma unroll
      for (int i = 0; i < kALoadRows; ++i)
        a_next[j][i] = a_inside[i] && d_inside ? a_tensor[a_offset[i] + a_walk.offset] : 0.0f;
      a_walk.advance(a_digits);
    }
#pragma unroll
    for (int j = 0; j < kBLoads; ++j) {
      b_next[j] = b_inside && d0 + b_d + j * kBDepthsApart < d_end ? gemm.b(b_walk, column) : 0.0f;
      b_walk.advance(b_digits);
    }
  };
  auto store = [&](float* stage) {
#pragma unroll
    for (int j = 0; j < kALoadDepths; ++j)
#pragma unroll
      for (int i = 0; i < kALoadRows; ++i)
        stage[(a_d + j * kADepths) * kAStride + a_row + i * kARowsApart] = a_next[j][i];
    float* b_tile = stage + kTileK * kAStride;
#pragma unroll
    for (int j = 0; j < kBLoads; ++j)
      b_tile[(b_d + j * kBDepthsApart) * kTileN + b_col] = b_next[j];
  };

  // Thread (ty, tx) computes rows ty*4.. and columns tx*4.. of the tile: one 16-byte
  // shared load of each operand per depth feeds 16 FMAs. A warp's A loads hit 2
  // addresses (broadcast) and its B loads 256 contiguous bytes, so neither conflicts.
  const int tx = t % kThreadsPerRow, ty = t / kThreadsPerRow;
  float acc[kThreadTile][kThreadTile] = {};
  load(d_begin);
  store(shared);
  __syncthreads();
  int stage = 0;
  for (int d0 = d_begin; d0 < d_end; d0 += kTileK) {
    const bool more = d0 + kTileK < d_end;
    if (more) load(d0 + kTileK);
    const float* a_tile = shared + stage * kStageFloats;
    const float* b_tile = a_tile + kTileK * kAStride;
#pragma unroll
    for (int dd = 0; dd < kTileK; ++dd) {
      const float4 a4 = *reinterpret_cast<const float4*>(a_tile + dd * kAStride + ty * kThreadTile);
      const float4 b4 = *reinterpret_cast<const float4*>(b_tile + dd * kTileN + tx * kThreadTile);
      const float a[kThreadTile] = {a4.x, a4.y, a4.z, a4.w};
      const float b[kThreadTile] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int i = 0; i < kThreadTile; ++i)
#pragma unroll
        for (int j = 0; j < kThreadTile; ++j) acc[i][j] += a[i] * b[j];
    }
    // The other stage was last read before the previous barrier, so one barrier per
    // step orders both this step's reads before the next overwrite and the stores
    // below before the next step's reads.
    if (more) store(shared + (stage ^ 1) * kStageFloats);
    __syncthreads();
    stage ^= 1;
  }
#pragma unroll
  for (int i = 0; i < kThreadTile; ++i) {
    const int row = row0 + ty * kThreadTile + i;
#pragma unroll
    for (int j = 0; j < kThreadTile; ++j) {
      const int col = col0 + tx * kThreadTile + j;
      if (row < rows && col < cols) gemm.store(group, split, row, col, acc[i][j]);
    }
  }
}

// out[i] = sum over splits of partials[split][i], in split order.
__global__ void sum_splits_kernel(const float* __restrict__ partials, int splits, int64_t n,
                                  float* __restrict__ out) {
  KILN_GRID_STRIDE_LOOP(i, n) {
    float sum = 0.0f;
    for (int split = 0; split < splits; ++split) sum += partials[split * n + i];
    out[i] = sum;
  }
}

// Block (k, split) sums values [split * slice, (split + 1) * slice) of channel k's
// N*P*Q into out[split][k]; with one split, out is db.
__global__ void backward_bias_kernel(Conv2dGeometry g, const float* __restrict__ dy,
                                     int64_t slice, float* __restrict__ out) {
  __shared__ float scratch[32];
  const int k = blockIdx.x, split = blockIdx.y, pq = g.p * g.q;
  const int64_t count = static_cast<int64_t>(g.n) * pq, begin = split * slice;
  const int64_t end = begin + slice < count ? begin + slice : count;
  float v = 0.0f;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    v += dy[(i / pq * g.k + k) * pq + i % pq];
  }
  v = block_sum(v, scratch);
  if (threadIdx.x == 0) out[static_cast<int64_t>(split) * g.k + k] = v;
}

// ---- selection and launch --------------------------------------------------------------

enum class Pass { forward, backward_data, backward_filter };

bool use_implicit_gemm(Pass pass, const Conv2dGeometry& g, ConvKernel kernel) {
  if (kernel != ConvKernel::automatic) return kernel == ConvKernel::implicit_gemm;
  const int cg = g.c / g.groups, kg = g.k / g.groups, rs = g.r * g.s;
  switch (pass) {
    case Pass::forward: return kg >= 16 && cg * rs >= 16;
    case Pass::backward_data: return cg >= 16 && kg * rs >= 16;
    case Pass::backward_filter: return kg >= 4 && cg * rs >= 4;
  }
  return false;
}

// A sum of `terms` terms cut into `count` slices of `length` terms (the last may be
// shorter), each computed by its own blocks into a workspace and summed in order.
struct Split {
  int count;
  int64_t length;
};

// Enough slices that `blocks` blocks per slice make kTargetBlocks, each slice at least
// `min_length` terms (rounded up to whole `unit`s), at most kMaxSplits.
Split split_sum(int64_t blocks, int64_t terms, int64_t min_length, int64_t unit) {
  const int64_t by_occupancy = (kTargetBlocks + blocks - 1) / blocks;
  const int64_t by_length = terms / min_length;
  const int64_t count = std::min({by_occupancy, by_length, int64_t{kMaxSplits}});
  if (count <= 1) return {1, terms};
  const int64_t length = ((terms + count - 1) / count + unit - 1) / unit * unit;
  return {static_cast<int>((terms + length - 1) / length), length};
}

// Each pass's GEMM sizes (per group) and output floats (all groups).
struct GemmShape {
  int rows, cols, depth;
  int64_t outputs;
};
GemmShape gemm_shape(Pass pass, const Conv2dGeometry& g) {
  const int cg = g.c / g.groups, kg = g.k / g.groups, rs = g.r * g.s;
  switch (pass) {
    case Pass::forward:
      return {kg, g.n * g.p * g.q, cg * rs, static_cast<int64_t>(g.n) * g.k * g.p * g.q};
    case Pass::backward_data:
      return {cg, g.n * g.h * g.w, kg * rs, static_cast<int64_t>(g.n) * g.c * g.h * g.w};
    case Pass::backward_filter:
      return {kg, cg * rs, g.n * g.p * g.q, static_cast<int64_t>(g.k) * cg * rs};
  }
  return {};
}

// Split-K: a slice shorter than kMinSliceSteps steps would spend a large share of its
// time outside the main loop (the walkers' divisions, a first step whose loads nothing
// overlaps) and on its 64x64 partial (16 KiB written, then read again by the sum,
// against 8 KiB of operands staged per step).
Split gemm_split(Pass pass, const Conv2dGeometry& g) {
  const GemmShape s = gemm_shape(pass, g);
  const int64_t tiles =
      static_cast<int64_t>(ceil_div(s.rows, kTileM)) * ceil_div(s.cols, kTileN) * g.groups;
  return split_sum(tiles, s.depth, kMinSliceSteps * kTileK, kTileK);
}

int64_t split_workspace_floats(Pass pass, const Conv2dGeometry& g) {
  const int splits = gemm_split(pass, g).count;
  return splits > 1 ? splits * gemm_shape(pass, g).outputs : 0;
}

// Slices of each channel's N*P*Q values for the bias gradient, whose grid has one block
// per channel: a slice of kMinBiasSlice values is 8 loads per thread, enough to pay for
// the block's reduction and its partial.
Split bias_split(const Conv2dGeometry& g) {
  return split_sum(g.k, static_cast<int64_t>(g.n) * g.p * g.q, kMinBiasSlice, 1);
}

// Row slices for the direct backward-filter kernel, whose grid has one thread per
// weight: a depthwise layer has only K*R*S of them, each summing N*P*Q products. Enough
// threads for two waves of 256-thread blocks, each slice at least four rows (n, p).
int direct_filter_splits(const Conv2dGeometry& g) {
  const int64_t weights = static_cast<int64_t>(g.k) * (g.c / g.groups) * g.r * g.s;
  const int64_t by_occupancy =
      (static_cast<int64_t>(kTargetBlocks) * kThreads + weights - 1) / weights;
  const int by_depth = g.n * g.p / 4;
  int64_t splits = by_occupancy < by_depth ? by_occupancy : by_depth;
  if (splits > kMaxSplits) splits = kMaxSplits;
  return splits > 1 ? static_cast<int>(splits) : 1;
}

void sum_splits(const float* partials, int splits, int64_t n, float* out, rt::Stream stream) {
  launch(sum_splits_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, stream, partials,
         splits, n, out);
}

// Runs `pass` as an implicit GEMM into `result`; split-K writes its partials into
// `workspace` (split_workspace_floats of them) and sums them into `result`.
template <class Gemm>
void run_implicit_gemm(Gemm gemm, Pass pass, const Conv2dGeometry& g, float* result,
                       float* workspace, const char* name, rt::Stream stream) {
  const GemmShape shape = gemm_shape(pass, g);
  const Split split = gemm_split(pass, g);
  KILN_CHECK(split.count == 1 || workspace, name, ": split sums need a workspace of ",
             split.count * shape.outputs, " floats");
  gemm.out = split.count > 1 ? workspace : result;
  gemm.split_stride = shape.outputs;
  const dim3 grid(blocks_for(shape.cols, kTileN), blocks_for(shape.rows, kTileM),
                  static_cast<unsigned>(g.groups * split.count));
  launch(implicit_gemm_kernel<Gemm>, grid, dim3(kThreads), kSharedFloats * sizeof(float), stream,
         gemm, split.count, static_cast<int>(split.length));
  if (split.count > 1) sum_splits(workspace, split.count, shape.outputs, result, stream);
}

}  // namespace

int64_t conv2d_forward_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel) {
  return use_implicit_gemm(Pass::forward, g, kernel) ? split_workspace_floats(Pass::forward, g)
                                                     : 0;
}

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, float* workspace, ConvKernel kernel, rt::Stream stream) {
  if (use_implicit_gemm(Pass::forward, g, kernel)) {
    run_implicit_gemm(ForwardGemm{g, x, w, bias, nullptr, 0}, Pass::forward, g, y, workspace,
                      "conv2d_forward", stream);
    return;
  }
  const int64_t total = static_cast<int64_t>(g.n) * g.k * g.p * g.q;
  launch(forward_direct_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0, stream, g,
         x, w, bias, y);
}

int64_t conv2d_backward_data_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel) {
  return use_implicit_gemm(Pass::backward_data, g, kernel)
             ? split_workspace_floats(Pass::backward_data, g)
             : 0;
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          float* workspace, ConvKernel kernel, rt::Stream stream) {
  if (use_implicit_gemm(Pass::backward_data, g, kernel)) {
    const BackwardDataGemm gemm{g, dy, w, nullptr, 0, divisor(g.stride_h), divisor(g.stride_w)};
    run_implicit_gemm(gemm, Pass::backward_data, g, dx, workspace, "conv2d_backward_data",
                      stream);
    return;
  }
  const int64_t total = static_cast<int64_t>(g.n) * g.c * g.h * g.w;
  launch(backward_data_direct_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0,
         stream, g, dy, w, dx);
}

int64_t conv2d_backward_filter_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel) {
  if (use_implicit_gemm(Pass::backward_filter, g, kernel))
    return split_workspace_floats(Pass::backward_filter, g);
  const int splits = direct_filter_splits(g);
  return splits > 1 ? static_cast<int64_t>(splits) * g.k * (g.c / g.groups) * g.r * g.s : 0;
}

void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* workspace, ConvKernel kernel, rt::Stream stream) {
  if (use_implicit_gemm(Pass::backward_filter, g, kernel)) {
    run_implicit_gemm(BackwardFilterGemm{g, x, dy, nullptr, 0}, Pass::backward_filter, g, dw,
                      workspace, "conv2d_backward_filter", stream);
    return;
  }
  const int64_t weights = static_cast<int64_t>(g.k) * (g.c / g.groups) * g.r * g.s;
  const int splits = direct_filter_splits(g);
  KILN_CHECK(splits == 1 || workspace, "conv2d_backward_filter: split sums need a workspace of ",
             splits * weights, " floats");
  float* out = splits > 1 ? workspace : dw;
  launch(backward_filter_direct_kernel, grid_stride_grid(weights * splits, kThreads),
         dim3(kThreads), 0, stream, g, x, dy, splits, out);
  if (splits > 1) sum_splits(out, splits, weights, dw, stream);
}

int64_t conv2d_backward_bias_workspace_floats(const Conv2dGeometry& g) {
  const int splits = bias_split(g).count;
  return splits > 1 ? static_cast<int64_t>(splits) * g.k : 0;
}

void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db, float* workspace,
                          rt::Stream stream) {
  const Split split = bias_split(g);
  KILN_CHECK(split.count == 1 || workspace, "conv2d_backward_bias: split sums need a workspace of ",
             static_cast<int64_t>(split.count) * g.k, " floats");
  float* out = split.count > 1 ? workspace : db;
  launch(backward_bias_kernel, dim3(static_cast<unsigned>(g.k), static_cast<unsigned>(split.count)),
         dim3(kThreads), 0, stream, g, dy, split.length, out);
  if (split.count > 1) sum_splits(out, split.count, g.k, db, stream);
}

}  // namespace kiln::KILN_BACKEND
