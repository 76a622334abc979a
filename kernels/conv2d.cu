// 2-D convolution (NCHW, groups, dilation, asymmetric padding): forward, backward-data,
// backward-filter and bias gradient.
//
// Version ladder (each checked against the double reference in tests/ops/conv2d_test.cpp):
//   v1 direct: one thread per output element (y for forward, dx for backward-data, dw for
//      backward-filter) looping over its receptive field in registers; 256-thread blocks,
//      grid-stride, no shared memory. The readable baseline; bound by memory latency
//      (every product reloads both operands, cached only by L1/L2).
//   v2 implicit GEMM: each pass is a GEMM C[M x N] = A[M x D] * B[D x N] per group whose
//      operands are gathered on the fly from the tensors (no im2col buffer):
//        forward          M = K/G (filters), N = N*P*Q (output pixels), D = C/G*R*S
//        backward-data    M = C/G (channels), N = N*H*W (input pixels),  D = K/G*R*S
//        backward-filter  M = K/G (filters), N = C/G*R*S (taps),         D = N*P*Q
//      A block of 256 threads computes a 64x64 tile of C; thread (ty, tx) = (t/16, t%16)
//      keeps a 4x4 register tile (rows ty+16i, columns tx+16j, so neighbouring threads
//      store neighbouring columns). Per 16-deep step the block stages A[64x16] and
//      B[16x64] in shared memory (8.3 KiB; A is stored transposed with a padded row so
//      the stores do not conflict): consecutive threads load consecutive depth indices of
//      A and consecutive columns of B, so global loads coalesce wherever the tensor is
//      contiguous in that index. Each thread's B column is fixed across steps, so its
//      (n, p, q) decomposition is done once. 16 FMAs per 8 shared loads per thread and
//      step: compute-bound on large layers. Backward-filter splits D (N*P*Q, usually by
//      far the longest side) over up to 64 slices when the tile grid alone is small,
//      each slice writing its own partial dw; a second kernel sums the slices in order,
//      so the result is deterministic (no atomics).
//   bias gradient: one 256-thread block per channel sums N*P*Q values in registers and
//      combines them with warp shuffles (block_sum); deterministic, memory-bound.
//
// Selection rule (ConvKernel::automatic; also in docs/KERNELS.md, "## conv2d"): a 64x64
// tile only pays when the GEMM fills a useful share of it, so
//   forward:         implicit GEMM when K/G >= 16 and C/G*R*S >= 16, else direct;
//   backward-data:   implicit GEMM when C/G >= 16 and K/G*R*S >= 16, else direct;
//   backward-filter: implicit GEMM when K/G >= 4 and C/G*R*S >= 4, else direct (direct
//      has only one thread per weight, each summing N*P*Q products, so split-K implicit
//      GEMM wins even at low tile occupancy; depthwise layers stay direct).
#include "kernels/common.cuh"
#include "kernels/conv2d.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;
constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadTile = 4;                           // 4x4 outputs per thread
constexpr int kThreadsPerRow = kTileN / kThreadTile;     // 16
constexpr int kATileStride = kTileM + 1;                 // padded: conflict-free stores
constexpr int kSharedFloats = kTileK * kATileStride + kTileK * kTileN;
constexpr int kMaxSplits = 64;
constexpr int kTargetBlocks = 264;  // two waves of an H100's 132 SMs
static_assert(kThreadsPerRow * kThreadsPerRow == kThreads, "one thread per 4x4 sub-tile");
static_assert(kThreads % kTileN == 0 && kThreads % kTileK == 0,
              "a thread's load column (B) and load depth (A) stay fixed across its loads");

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

__global__ void backward_filter_direct_kernel(Conv2dGeometry g, const float* __restrict__ x,
                                              const float* __restrict__ dy,
                                              float* __restrict__ dw) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  const int64_t total = static_cast<int64_t>(g.k) * cg * g.r * g.s;
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int s = static_cast<int>(i % g.s);
    const int r = static_cast<int>(i / g.s % g.r);
    const int cl = static_cast<int>(i / (g.s * g.r) % cg);
    const int k = static_cast<int>(i / (static_cast<int64_t>(g.s) * g.r * cg));
    const int c = k / kg * cg + cl;
    float acc = 0.0f;
    for (int n = 0; n < g.n; ++n) {
      const float* xplane = x + (static_cast<int64_t>(n) * g.c + c) * g.h * g.w;
      const float* dyplane = dy + (static_cast<int64_t>(n) * g.k + k) * g.p * g.q;
      for (int p = 0; p < g.p; ++p) {
        const int h = p * g.stride_h - g.pad_top + r * g.dilation_h;
        if (h < 0 || h >= g.h) continue;
        for (int q = 0; q < g.q; ++q) {
          const int col = q * g.stride_w - g.pad_left + s * g.dilation_w;
          if (col >= 0 && col < g.w) acc += xplane[h * g.w + col] * dyplane[p * g.q + q];
        }
      }
    }
    dw[i] = acc;
  }
}

// ---- v2: implicit GEMM -----------------------------------------------------------------
// Each pass describes its GEMM to implicit_gemm_kernel: sizes, a(row, depth), the
// per-column state a thread computes once (Column), b(depth, column) and store().
// Out-of-image taps read as zero, which is the zero padding.

struct ForwardGemm {
  Conv2dGeometry g;
  const float* x;
  const float* w;
  const float* bias;
  float* y;

  struct Column {
    int64_t x_offset;  // sample n's first input channel of the group
    int h0, w0;        // input pixel of tap (0, 0)
  };
  __device__ int rows() const { return g.k / g.groups; }
  __device__ int cols() const { return g.n * g.p * g.q; }
  __device__ int depth() const { return g.c / g.groups * g.r * g.s; }
  __device__ float a(int group, int row, int d) const {
    return w[static_cast<int64_t>(group * rows() + row) * depth() + d];
  }
  __device__ Column column(int group, int col) const {
    const int pq = g.p * g.q, n = col / pq, p = col % pq / g.q, q = col % g.q;
    return {(static_cast<int64_t>(n) * g.c + group * (g.c / g.groups)) * g.h * g.w,
            p * g.stride_h - g.pad_top, q * g.stride_w - g.pad_left};
  }
  __device__ float b(int d, const Column& col) const {
    const int rs = g.r * g.s, c = d / rs, r = d % rs / g.s, s = d % g.s;
    const int h = col.h0 + r * g.dilation_h, wc = col.w0 + s * g.dilation_w;
    if (h < 0 || h >= g.h || wc < 0 || wc >= g.w) return 0.0f;
    return x[col.x_offset + (static_cast<int64_t>(c) * g.h + h) * g.w + wc];
  }
  __device__ void store(int group, int /*split*/, int row, int col, float v) const {
    const int k = group * rows() + row, pq = g.p * g.q, n = col / pq;
    y[(static_cast<int64_t>(n) * g.k + k) * pq + col % pq] = bias ? v + bias[k] : v;
  }
};

struct BackwardDataGemm {
  Conv2dGeometry g;
  const float* dy;
  const float* w;
  float* dx;

  struct Column {
    int64_t dy_offset;  // sample n's first output channel of the group
    int h, w;           // the input pixel this column computes, shifted by the padding
  };
  __device__ int rows() const { return g.c / g.groups; }
  __device__ int cols() const { return g.n * g.h * g.w; }
  __device__ int depth() const { return g.k / g.groups * g.r * g.s; }
  __device__ float a(int group, int row, int d) const {
    const int rs = g.r * g.s, k = group * (g.k / g.groups) + d / rs;
    return w[(static_cast<int64_t>(k) * rows() + row) * rs + d % rs];
  }
  __device__ Column column(int group, int col) const {
    const int hw = g.h * g.w, n = col / hw;
    return {(static_cast<int64_t>(n) * g.k + group * (g.k / g.groups)) * g.p * g.q,
            col % hw / g.w + g.pad_top, col % g.w + g.pad_left};
  }
  __device__ float b(int d, const Column& col) const {
    const int rs = g.r * g.s, kl = d / rs, r = d % rs / g.s, s = d % g.s;
    const int hp = col.h - r * g.dilation_h, wq = col.w - s * g.dilation_w;
    if (hp < 0 || wq < 0 || hp % g.stride_h != 0 || wq % g.stride_w != 0) return 0.0f;
    const int p = hp / g.stride_h, q = wq / g.stride_w;
    if (p >= g.p || q >= g.q) return 0.0f;
    return dy[col.dy_offset + (static_cast<int64_t>(kl) * g.p + p) * g.q + q];
  }
  __device__ void store(int group, int /*split*/, int row, int col, float v) const {
    const int c = group * rows() + row, hw = g.h * g.w, n = col / hw;
    dx[(static_cast<int64_t>(n) * g.c + c) * hw + col % hw] = v;
  }
};

struct BackwardFilterGemm {
  Conv2dGeometry g;
  const float* x;
  const float* dy;
  float* out;            // dw, or the split-K partials
  int64_t split_stride;  // floats between two splits' partials

  struct Column {
    int64_t x_channel;  // offset of input channel c of sample 0
    int r, s;
  };
  __device__ int rows() const { return g.k / g.groups; }
  __device__ int cols() const { return g.c / g.groups * g.r * g.s; }
  __device__ int depth() const { return g.n * g.p * g.q; }
  __device__ float a(int group, int row, int d) const {
    const int pq = g.p * g.q, k = group * rows() + row;
    return dy[(static_cast<int64_t>(d / pq) * g.k + k) * pq + d % pq];
  }
  __device__ Column column(int group, int col) const {
    const int rs = g.r * g.s, c = group * (g.c / g.groups) + col / rs;
    return {static_cast<int64_t>(c) * g.h * g.w, col % rs / g.s, col % g.s};
  }
  __device__ float b(int d, const Column& col) const {
    const int pq = g.p * g.q, n = d / pq, p = d % pq / g.q, q = d % g.q;
    const int h = p * g.stride_h - g.pad_top + col.r * g.dilation_h;
    const int wc = q * g.stride_w - g.pad_left + col.s * g.dilation_w;
    if (h < 0 || h >= g.h || wc < 0 || wc >= g.w) return 0.0f;
    return x[static_cast<int64_t>(n) * g.c * g.h * g.w + col.x_channel + h * g.w + wc];
  }
  __device__ void store(int group, int split, int row, int col, float v) const {
    out[split * split_stride + static_cast<int64_t>(group * rows() + row) * cols() + col] = v;
  }
};

// Grid: (column tiles, row tiles, groups * splits); split-K slices the depth into
// `splits` ranges of whole kTileK steps.
template <class Gemm>
__global__ void __launch_bounds__(kThreads) implicit_gemm_kernel(Gemm gemm, int splits) {
  KILN_DYNAMIC_SHARED(float, shared);
  float* a_tile = shared;                          // [kTileK][kATileStride], A transposed
  float* b_tile = shared + kTileK * kATileStride;  // [kTileK][kTileN]
  const int group = blockIdx.z / splits, split = blockIdx.z % splits;
  const int row0 = blockIdx.y * kTileM, col0 = blockIdx.x * kTileN;
  const int rows = gemm.rows(), cols = gemm.cols(), depth = gemm.depth();
  const int per_split = ceil_div(ceil_div(depth, splits), kTileK) * kTileK;
  const int d_begin = split * per_split;
  const int d_end = d_begin + per_split < depth ? d_begin + per_split : depth;

  // This thread's loads: A at depth offset a_d and rows a_row + 16j; B at column
  // b_col and depth offsets b_d + 4j.
  const int a_d = threadIdx.x % kTileK, a_row = threadIdx.x / kTileK;
  const int b_col = threadIdx.x % kTileN, b_d = threadIdx.x / kTileN;
  const bool b_col_inside = col0 + b_col < cols;
  const typename Gemm::Column column =
      b_col_inside ? gemm.column(group, col0 + b_col) : typename Gemm::Column{};
  const int tx = threadIdx.x % kThreadsPerRow, ty = threadIdx.x / kThreadsPerRow;

  float acc[kThreadTile][kThreadTile] = {};
  for (int d0 = d_begin; d0 < d_end; d0 += kTileK) {
#pragma unroll
    for (int j = 0; j < kTileM * kTileK / kThreads; ++j) {
      const int row = a_row + j * (kThreads / kTileK), d = d0 + a_d;
      a_tile[a_d * kATileStride + row] =
          row0 + row < rows && d < d_end ? gemm.a(group, row0 + row, d) : 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kTileK * kTileN / kThreads; ++j) {
      const int dd = b_d + j * (kThreads / kTileN), d = d0 + dd;
      b_tile[dd * kTileN + b_col] = b_col_inside && d < d_end ? gemm.b(d, column) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int dd = 0; dd < kTileK; ++dd) {
      float a[kThreadTile], b[kThreadTile];
#pragma unroll
      for (int i = 0; i < kThreadTile; ++i) {
        a[i] = a_tile[dd * kATileStride + ty + i * kThreadsPerRow];
        b[i] = b_tile[dd * kTileN + tx + i * kThreadsPerRow];
      }
#pragma unroll
      for (int i = 0; i < kThreadTile; ++i)
#pragma unroll
        for (int j = 0; j < kThreadTile; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kThreadTile; ++i) {
    const int row = row0 + ty + i * kThreadsPerRow;
#pragma unroll
    for (int j = 0; j < kThreadTile; ++j) {
      const int col = col0 + tx + j * kThreadsPerRow;
      if (row < rows && col < cols) gemm.store(group, split, row, col, acc[i][j]);
    }
  }
}

// dw[i] = sum over splits of partials[split][i], in split order.
__global__ void sum_splits_kernel(const float* __restrict__ partials, int splits, int64_t n,
                                  float* __restrict__ dw) {
  KILN_GRID_STRIDE_LOOP(i, n) {
    float sum = 0.0f;
    for (int split = 0; split < splits; ++split) sum += partials[split * n + i];
    dw[i] = sum;
  }
}

__global__ void backward_bias_kernel(Conv2dGeometry g, const float* __restrict__ dy,
                                     float* __restrict__ db) {
  __shared__ float scratch[32];
  const int k = blockIdx.x, pq = g.p * g.q;
  const int64_t count = static_cast<int64_t>(g.n) * pq;
  float v = 0.0f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    v += dy[(i / pq * g.k + k) * pq + i % pq];
  }
  v = block_sum(v, scratch);
  if (threadIdx.x == 0) db[k] = v;
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

// Depth slices for backward-filter: enough blocks for two waves, each slice at least
// four kTileK steps deep.
int filter_splits(const Conv2dGeometry& g) {
  const int kg = g.k / g.groups, crs = g.c / g.groups * g.r * g.s;
  const int tiles = ceil_div(kg, kTileM) * ceil_div(crs, kTileN) * g.groups;
  const int by_occupancy = ceil_div(kTargetBlocks, tiles);
  const int by_depth = g.n * g.p * g.q / (4 * kTileK);
  int splits = by_occupancy < by_depth ? by_occupancy : by_depth;
  if (splits > kMaxSplits) splits = kMaxSplits;
  return splits > 1 ? splits : 1;
}

template <class Gemm>
void launch_implicit_gemm(const Gemm& gemm, int rows, int cols, int groups, int splits,
                          rt::Stream stream) {
  const dim3 grid(blocks_for(cols, kTileN), blocks_for(rows, kTileM),
                  static_cast<unsigned>(groups * splits));
  launch(implicit_gemm_kernel<Gemm>, grid, dim3(kThreads), kSharedFloats * sizeof(float), stream,
         gemm, splits);
}

}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, ConvKernel kernel, rt::Stream stream) {
  if (use_implicit_gemm(Pass::forward, g, kernel)) {
    launch_implicit_gemm(ForwardGemm{g, x, w, bias, y}, g.k / g.groups, g.n * g.p * g.q,
                         g.groups, 1, stream);
    return;
  }
  const int64_t total = static_cast<int64_t>(g.n) * g.k * g.p * g.q;
  launch(forward_direct_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0, stream, g,
         x, w, bias, y);
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          ConvKernel kernel, rt::Stream stream) {
  if (use_implicit_gemm(Pass::backward_data, g, kernel)) {
    launch_implicit_gemm(BackwardDataGemm{g, dy, w, dx}, g.c / g.groups, g.n * g.h * g.w,
                         g.groups, 1, stream);
    return;
  }
  const int64_t total = static_cast<int64_t>(g.n) * g.c * g.h * g.w;
  launch(backward_data_direct_kernel, grid_stride_grid(total, kThreads), dim3(kThreads), 0,
         stream, g, dy, w, dx);
}

int64_t conv2d_backward_filter_workspace_floats(const Conv2dGeometry& g, ConvKernel kernel) {
  if (!use_implicit_gemm(Pass::backward_filter, g, kernel)) return 0;
  const int splits = filter_splits(g);
  return splits > 1 ? static_cast<int64_t>(splits) * g.k * (g.c / g.groups) * g.r * g.s : 0;
}

void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* workspace, ConvKernel kernel, rt::Stream stream) {
  const int64_t weights = static_cast<int64_t>(g.k) * (g.c / g.groups) * g.r * g.s;
  if (!use_implicit_gemm(Pass::backward_filter, g, kernel)) {
    launch(backward_filter_direct_kernel, grid_stride_grid(weights, kThreads), dim3(kThreads), 0,
           stream, g, x, dy, dw);
    return;
  }
  const int splits = filter_splits(g);
  KILN_CHECK(splits == 1 || workspace, "conv2d_backward_filter: split-K needs a workspace of ",
             splits * weights, " floats");
  const BackwardFilterGemm gemm{g, x, dy, splits > 1 ? workspace : dw, weights};
  launch_implicit_gemm(gemm, g.k / g.groups, (g.c / g.groups) * g.r * g.s, g.groups, splits,
                       stream);
  if (splits > 1) {
    launch(sum_splits_kernel, grid_stride_grid(weights, kThreads), dim3(kThreads), 0, stream,
           static_cast<const float*>(workspace), splits, weights, dw);
  }
}

void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db,
                          rt::Stream stream) {
  launch(backward_bias_kernel, dim3(static_cast<unsigned>(g.k)), dim3(kThreads), 0, stream, g,
         dy, db);
}

}  // namespace kiln::KILN_BACKEND
