// The recurrent GEMM (cpu/rnn_gemm.h). A tile holds R rows of C x P packed panels of
// accumulators in registers; per k it loads P panel rows of W (16 floats each) and broadcasts
// R elements of A, so a step reads W once per row block and A once per panel group. The driver
// walks panel groups in the outer loop, so a group's panels (K x 16 P floats) stay in cache
// while every row block of A passes over them. Tiles per instruction-set variant (cpu/isa.h):
//   variant    L   registers  tile R x P (accumulators)   + operands
//   avx512    16   32 zmm     8 x 3 (24)                  + 3 + 1 broadcast
//   avx2       8   16 ymm     6 x 1 (12)                  + 2 + 1
//   baseline   4   16 xmm     2 x 1 (8)                   + 4 + 1 + 1 (no FMA: a temporary)
// The product is bound by the FMA units at batch >= 8 (W is re-read from L1/L2 per row
// block) and by loading W at batch 1-4 (a matrix-vector product).
#include "cpu/rnn_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/isa.h"

namespace kiln::cpu {
namespace {

#define KILN_ALWAYS_INLINE inline __attribute__((always_inline))
// A tile's loops must unroll completely, or its accumulators live in memory.
#define KILN_UNROLL _Pragma("GCC unroll 24")

// One tile's operands: rows of A and C from a row block, panels from a panel group.
struct Tile {
  const float* a;
  int64_t lda;
  const float* packed;  // the group's first panel
  int64_t panel;        // floats per panel (K * 16)
  int k;
  float* c;
  int ldc;
  int last_cols;  // valid columns of the tile's last panel
  bool accumulate;
};
using TileFn = void (*)(const Tile&);

struct TileSet {
  int max_rows, max_panels;
  TileFn (*tile_for)(int rows, int panels);
};

// Tiles take 64-byte vectors in avx512 only and are called through pointers, never across
// variants, so the ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace avx512 {
constexpr int kLanes = 16, kMaxRows = 8, kMaxPanels = 3;
#include "cpu/rnn_gemm_tiles.inc"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
constexpr int kLanes = 8, kMaxRows = 6, kMaxPanels = 1;
#include "cpu/rnn_gemm_tiles.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif

namespace baseline {
constexpr int kLanes = 4, kMaxRows = 2, kMaxPanels = 1;
#include "cpu/rnn_gemm_tiles.inc"
}  // namespace baseline

const TileSet& tiles_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return avx512::tiles;
  if (isa == Isa::avx2) return avx2::tiles;
#endif
  (void)isa;
  return baseline::tiles;
}

int panels_of(int n) { return (n + kRnnPanel - 1) / kRnnPanel; }

// Below this many multiply-adds (~20 us on one core) a parallel region costs more than it saves.
constexpr int64_t kParallelMultiplyAdds = int64_t{1} << 21;

}  // namespace

int64_t rnn_packed_floats(int k, int n) {
  return static_cast<int64_t>(panels_of(n)) * kRnnPanel * k;
}

void rnn_pack_weights(Transpose trans_w, const float* w, int ldw, int k, int n, float* packed) {
  for (int p = 0; p < panels_of(n); ++p) {
    float* panel = packed + static_cast<int64_t>(p) * kRnnPanel * k;
    const int first = p * kRnnPanel, cols = std::min(kRnnPanel, n - first);
    if (cols < kRnnPanel) std::fill(panel, panel + static_cast<int64_t>(kRnnPanel) * k, 0.0f);
    // Loops in the order that reads W contiguously.
    if (trans_w == Transpose::no) {
      for (int kk = 0; kk < k; ++kk) {
        const float* src = w + static_cast<int64_t>(kk) * ldw + first;
        std::copy(src, src + cols, panel + static_cast<int64_t>(kk) * kRnnPanel);
      }
    } else {
      for (int j = 0; j < cols; ++j) {
        const float* column = w + static_cast<int64_t>(first + j) * ldw;
        for (int kk = 0; kk < k; ++kk) panel[static_cast<int64_t>(kk) * kRnnPanel + j] = column[kk];
      }
    }
  }
}

void rnn_gemm_packed(int m, int n, int k, const float* a, int lda, const float* packed,
                     bool accumulate, float* c, int ldc) {
  const TileSet& set = tiles_for(active_isa());
  const int panels = panels_of(n);
  const int groups = (panels + set.max_panels - 1) / set.max_panels;
  const int row_blocks = (m + set.max_rows - 1) / set.max_rows;
  const int64_t panel = static_cast<int64_t>(k) * kRnnPanel;
  const bool parallel = static_cast<int64_t>(m) * n * k >= kParallelMultiplyAdds;
  // Tiles in panel-group-major order: consecutive tiles (and a thread's share of them) reuse
  // one group's panels.
#pragma omp parallel for schedule(static) if (parallel)
  for (int i = 0; i < groups * row_blocks; ++i) {
    const int g = i / row_blocks, row = i % row_blocks * set.max_rows;
    const int first = g * set.max_panels, count = std::min(set.max_panels, panels - first);
    const int last_cols = std::min(kRnnPanel, n - (first + count - 1) * kRnnPanel);
    const Tile t{a + static_cast<int64_t>(row) * lda,
                 lda,
                 packed + first * panel,
                 panel,
                 k,
                 c + static_cast<int64_t>(row) * ldc + first * kRnnPanel,
                 ldc,
                 last_cols,
                 accumulate};
    set.tile_for(std::min(set.max_rows, m - row), count)(t);
  }
}

void rnn_transpose(const float* src, int rows, int cols, float* dst) {
  constexpr int kBlock = 16;  // a 16 x 16 block reads and writes 16 cache lines each
  for (int r0 = 0; r0 < rows; r0 += kBlock) {
    for (int c0 = 0; c0 < cols; c0 += kBlock) {
      const int r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int c = c0; c < c1; ++c) {
        for (int r = r0; r < r1; ++r) {
          dst[static_cast<int64_t>(c) * rows + r] = src[static_cast<int64_t>(r) * cols + c];
        }
      }
    }
  }
}

}  // namespace kiln::cpu
