// Direct convolution on the CPU. Every pass is one "plan": per group,
//   out[ko][p][q] = init[ko] + sum_{ci, i, j} f[ko][ci][i][j] * in[ci][p*sh + i*dh][q*sw + j*dw]
// over input planes copied into a zero-padded "packed" layout, so the inner loops have
// no bounds checks. Backward-data is the same plan run on dy, zero-inserted between
// rows/columns by the strides, with the filters flipped and transposed.
//
// Vectors of 16 floats run along an output row (q). A forward tile holds KB filters x
// T vectors of accumulators in registers (KB*T <= 24: 24 of AVX-512's 32 registers);
// per (channel, tap) it loads T input vectors and broadcasts KB weights. A packed
// plane stores each padded row split into stride_w phases (columns u with
// u % stride_w == phase), so the T loads are contiguous for any stride and dilation,
// and every tap is a fixed offset from an output vector's base.
//
// Backward-filter holds KB filters x JB taps of lane-wise partial sums in registers
// and walks every output vector of the samples in a pack: per vector, KB dy loads and
// JB x loads feed KB*JB FMAs. Lanes are summed once per batch chunk.
//
// The tile functions are compiled for AVX-512, AVX2+FMA and baseline x86-64 (GCC's
// target_clones, chosen when the library loads), so one binary runs anywhere and uses
// the widest vectors the machine has.
#include "cpu/conv2d_direct.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cpu/conv2d.h"

// Functions taking or returning 64-byte vectors change ABI with AVX-512 on or off; all
// of them are internal and inlined, so the warning does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace kiln::cpu {
namespace {

constexpr int kLanes = 16;
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

#if defined(__x86_64__)
#define KILN_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KILN_VECTOR_CLONES
#endif
#define KILN_ALWAYS_INLINE inline __attribute__((always_inline))
// Loops over a tile's KB/T/JB must unroll completely, or its accumulators live in
// memory (GCC -O2 leaves them rolled).
#define KILN_UNROLL _Pragma("GCC unroll 24")

KILN_ALWAYS_INLINE Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

KILN_ALWAYS_INLINE void store(float* p, const Vec& v, int lanes) {
  std::memcpy(p, &v, sizeof(float) * lanes);
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Where packed row t, padded column u of an input plane come from: the source element
// ((t - pad_top) / insert_h, (u - pad_left) / insert_w) when both divide exactly and
// fall inside; zero otherwise. insert > 1 spreads the source out (backward-data).
struct Source {
  int h, w;
  int pad_top, pad_left;
  int insert_h = 1, insert_w = 1;
};

// One convolution of packed planes, per group (see the file comment).
struct Plan {
  int in_channels, out_channels;
  int r, s, p, q;
  int stride_h, stride_w, dilation_h, dilation_w;
  Source source;
  int vectors;         // per output row
  int rows;            // per packed plane
  int used_columns;    // padded columns any output lane < q reads; the rest stay zero
  int phase_len;       // floats per phase of a packed row
  int64_t row_stride;  // stride_w phases
  int64_t plane;       // floats per packed plane
  std::vector<int64_t> taps;  // [r*s]: offset of tap (i, j) from an output vector's base

  Plan(int in_channels, int out_channels, int r, int s, int p, int q, int stride_h,
       int stride_w, int dilation_h, int dilation_w, const Source& source)
      : in_channels(in_channels), out_channels(out_channels), r(r), s(s), p(p), q(q),
        stride_h(stride_h), stride_w(stride_w), dilation_h(dilation_h),
        dilation_w(dilation_w), source(source) {
    vectors = ceil_div(q, kLanes);
    rows = (p - 1) * stride_h + (r - 1) * dilation_h + 1;
    used_columns = (q - 1) * stride_w + (s - 1) * dilation_w + 1;
    phase_len = vectors * kLanes + (s - 1) * dilation_w / stride_w + 1;
    row_stride = static_cast<int64_t>(stride_w) * phase_len;
    plane = rows * row_stride;
    for (int i = 0; i < r; ++i)
      for (int j = 0; j < s; ++j) {
        const int u = j * dilation_w;
        taps.push_back(i * dilation_h * row_stride + (u % stride_w) * phase_len + u / stride_w);
      }
  }
  int tap_count() const { return r * s; }
  // Base of output vector v of row p in a packed plane.
  int64_t input_base(int row, int v) const {
    return row * stride_h * row_stride + v * kLanes;
  }
};

// Copies a source plane into the packed layout of `plan`.
void pack_plane(const Plan& plan, const float* src, float* out) {
  const Source& s = plan.source;
  const int zero_h = (s.h - 1) * s.insert_h + 1;  // zero-inserted extent
  const int zero_w = (s.w - 1) * s.insert_w + 1;
  for (int t = 0; t < plan.rows; ++t) {
    float* row = out + t * plan.row_stride;
    const int a = t - s.pad_top;
    if (a < 0 || a >= zero_h || a % s.insert_h != 0) {
      std::fill(row, row + plan.row_stride, 0.0f);
      continue;
    }
    const float* src_row = src + static_cast<int64_t>(a / s.insert_h) * s.w;
    if (plan.stride_w == 1 && s.insert_w == 1) {
      // Columns [first, last) are source columns [first - pad_left, last - pad_left).
      const int first = std::clamp(s.pad_left, 0, plan.used_columns);
      const int last = std::clamp(s.pad_left + s.w, first, plan.used_columns);
      std::fill(row, row + first, 0.0f);
      std::copy(src_row + first - s.pad_left, src_row + last - s.pad_left, row + first);
      std::fill(row + last, row + plan.row_stride, 0.0f);
      continue;
    }
    for (int phase = 0; phase < plan.stride_w; ++phase)
      for (int m = 0; m < plan.phase_len; ++m) {
        const int u = m * plan.stride_w + phase;
        const int b = u - s.pad_left;
        const bool inside = u < plan.used_columns && b >= 0 && b < zero_w && b % s.insert_w == 0;
        row[phase * plan.phase_len + m] = inside ? src_row[b / s.insert_w] : 0.0f;
      }
  }
}

// An output vector: its base in a packed input plane, its offset in an output
// (forward) or packed dy (backward-filter) plane, and how many of its lanes are real.
struct Slot {
  int64_t in, out;
  int lanes;
};

std::vector<Slot> output_slots(const Plan& plan, int64_t out_row_stride) {
  std::vector<Slot> slots;
  for (int row = 0; row < plan.p; ++row)
    for (int v = 0; v < plan.vectors; ++v)
      slots.push_back({plan.input_base(row, v), row * out_row_stride + v * kLanes,
                       std::min(kLanes, plan.q - v * kLanes)});
  return slots;
}

// `count` filters (or taps) split into blocks of nearly equal size, at most `max_block`
// each; block b covers [start[b], start[b + 1]).
std::vector<int> balanced_blocks(int count, int max_block) {
  const int blocks = ceil_div(count, max_block);
  std::vector<int> start;
  for (int b = 0; b <= blocks; ++b) start.push_back(static_cast<int>(int64_t{count} * b / blocks));
  return start;
}

// Dispatch tables of tile instantiations: table[a - 1][b - 1] = Tiles<a, b>::fn.
template <template <int, int> class Tiles, int A, int... B>
constexpr auto tile_row(std::integer_sequence<int, B...>) {
  return std::array{Tiles<A, B + 1>::fn...};
}

template <template <int, int> class Tiles, int Cols, int... A>
constexpr auto tile_table(std::integer_sequence<int, A...>) {
  return std::array{tile_row<Tiles, A + 1>(std::make_integer_sequence<int, Cols>{})...};
}

template <template <int, int> class Tiles, int Rows, int Cols>
constexpr auto tile_table() {
  return tile_table<Tiles, Cols>(std::make_integer_sequence<int, Rows>{});
}

// ---- forward tiles ---------------------------------------------------------------

constexpr int kMaxForwardFilters = 8, kMaxForwardVectors = 4, kAccumulators = 24;

struct ForwardTile {
  const float* in;       // packed planes of the group's input channels
  int64_t in_plane;
  int channels;
  const int64_t* taps;
  int tap_count;
  const float* filters;  // [channel][tap][KB]
  const float* init;     // KB values, or null for zero
  const Slot* slots;     // T
  float* out;            // plane of the block's first filter
  int64_t out_plane;
};

template <int KB, int T>
KILN_VECTOR_CLONES void forward_tile(const ForwardTile& a) {
  Vec acc[KB][T];
  KILN_UNROLL
  for (int k = 0; k < KB; ++k)
    KILN_UNROLL
    for (int t = 0; t < T; ++t) acc[k][t] = Vec{} + (a.init ? a.init[k] : 0.0f);
  const float* base[T];
  KILN_UNROLL
  for (int t = 0; t < T; ++t) base[t] = a.in + a.slots[t].in;
  const float* f = a.filters;
  for (int c = 0; c < a.channels; ++c) {
    const int64_t plane = c * a.in_plane;
    for (int tap = 0; tap < a.tap_count; ++tap, f += KB) {
      Vec x[T];
      KILN_UNROLL
      for (int t = 0; t < T; ++t) x[t] = load(base[t] + plane + a.taps[tap]);
      KILN_UNROLL
      for (int k = 0; k < KB; ++k) {
        const float w = f[k];
        KILN_UNROLL
        for (int t = 0; t < T; ++t) acc[k][t] += x[t] * w;
      }
    }
  }
  KILN_UNROLL
  for (int k = 0; k < KB; ++k)
    KILN_UNROLL
    for (int t = 0; t < T; ++t) {
      store(a.out + k * a.out_plane + a.slots[t].out, acc[k][t], a.slots[t].lanes);
    }
}

template <int KB, int T>
struct ForwardTiles {
  static constexpr auto fn = &forward_tile<KB, T>;
};
// forward_tiles[KB - 1][T - 1]
const auto forward_tiles = tile_table<ForwardTiles, kMaxForwardFilters, kMaxForwardVectors>();

// Filters of one group, packed per block as [channel][tap][KB]; `weight(ko, ci, tap)`
// reads the plan's filter.
template <typename Weight>
std::vector<float> pack_filters(const Plan& plan, const std::vector<int>& blocks, Weight weight) {
  std::vector<float> packed;
  for (size_t b = 0; b + 1 < blocks.size(); ++b)
    for (int c = 0; c < plan.in_channels; ++c)
      for (int tap = 0; tap < plan.tap_count(); ++tap)
        for (int k = blocks[b]; k < blocks[b + 1]; ++k) packed.push_back(weight(k, c, tap));
  return packed;
}

// Runs a forward plan: `n` samples, each with `groups` groups of in_channels source
// planes at `src` and out_channels output planes (p x q) at `out`. filters[group] is
// packed by pack_filters with `blocks`; init (per output channel of all groups) may
// be null.
void run_forward(const Plan& plan, int n, int groups, const float* src, const float* init,
                 const std::vector<std::vector<float>>& filters, const std::vector<int>& blocks,
                 float* out) {
  const std::vector<Slot> slots = output_slots(plan, plan.q);
  const int64_t src_plane = static_cast<int64_t>(plan.source.h) * plan.source.w;
  const int64_t out_plane = static_cast<int64_t>(plan.p) * plan.q;
#pragma omp parallel
  {
    std::vector<float> packed(plan.in_channels * plan.plane);
    int begin, end;
    thread_range(n, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    for (int sample = begin; sample < end; ++sample)
      for (int grp = 0; grp < groups; ++grp) {
        const int64_t unit = static_cast<int64_t>(sample) * groups + grp;
        for (int c = 0; c < plan.in_channels; ++c)
          pack_plane(plan, src + (unit * plan.in_channels + c) * src_plane,
                     packed.data() + c * plan.plane);
        const float* f = filters[grp].data();
        for (size_t b = 0; b + 1 < blocks.size(); ++b) {
          const int k0 = blocks[b], kb = blocks[b + 1] - k0;
          const int per_tile = std::min(kMaxForwardVectors, kAccumulators / kb);
          const float* block_init = init ? init + grp * plan.out_channels + k0 : nullptr;
          ForwardTile tile{packed.data(), plan.plane, plan.in_channels, plan.taps.data(),
                           plan.tap_count(), f, block_init, nullptr,
                           out + (unit * plan.out_channels + k0) * out_plane, out_plane};
          for (size_t s = 0; s < slots.size(); s += per_tile) {
            const int t = static_cast<int>(std::min<size_t>(per_tile, slots.size() - s));
            tile.slots = slots.data() + s;
            forward_tiles[kb - 1][t - 1](tile);
          }
          f += static_cast<int64_t>(kb) * plan.in_channels * plan.tap_count();
        }
      }
  }
}

// ---- backward-filter tiles ---------------------------------------------------------

constexpr int kMaxFilterBlock = 4, kMaxTapBlock = 8;

struct FilterTile {
  const float* x;        // packed plane of one input channel, first sample of the pack
  const float* dy;       // packed dy plane of the block's first filter, first sample
  int64_t x_sample, dy_sample, dy_plane;
  int samples;
  const int64_t* taps;   // JB
  const Slot* slots;     // .in: x base, .out: dy offset
  int slot_count;
  float* acc;            // kLanes partial sums per (k, j) at acc + (k * acc_filter + j) * kLanes
  int64_t acc_filter;
};

template <int KB, int JB>
KILN_VECTOR_CLONES void filter_tile(const FilterTile& a) {
  Vec acc[KB][JB];
  KILN_UNROLL
  for (int k = 0; k < KB; ++k)
    KILN_UNROLL
    for (int j = 0; j < JB; ++j) acc[k][j] = load(a.acc + (k * a.acc_filter + j) * kLanes);
  int64_t tap[JB];
  KILN_UNROLL
  for (int j = 0; j < JB; ++j) tap[j] = a.taps[j];
  for (int n = 0; n < a.samples; ++n) {
    const float* x = a.x + n * a.x_sample;
    const float* dy = a.dy + n * a.dy_sample;
    for (int s = 0; s < a.slot_count; ++s) {
      const Slot& slot = a.slots[s];
      Vec d[KB];
      KILN_UNROLL
      for (int k = 0; k < KB; ++k) d[k] = load(dy + k * a.dy_plane + slot.out);
      KILN_UNROLL
      for (int j = 0; j < JB; ++j) {
        const Vec xv = load(x + slot.in + tap[j]);
        KILN_UNROLL
        for (int k = 0; k < KB; ++k) acc[k][j] += d[k] * xv;
      }
    }
  }
  KILN_UNROLL
  for (int k = 0; k < KB; ++k)
    KILN_UNROLL
    for (int j = 0; j < JB; ++j) store(a.acc + (k * a.acc_filter + j) * kLanes, acc[k][j], kLanes);
}

template <int KB, int JB>
struct FilterTiles {
  static constexpr auto fn = &filter_tile<KB, JB>;
};
// filter_tiles[KB - 1][JB - 1]
const auto filter_tiles = tile_table<FilterTiles, kMaxFilterBlock, kMaxTapBlock>();

// Output vectors per backward-filter chunk: summing a chunk's lanes costs about as
// much as 16 vectors of work per weight, so chunks are kept well above that.
constexpr int64_t kMinChunkVectors = 256;
// Bytes of packed x and dy per thread for backward-filter's sample packs.
constexpr int64_t kPackBytes = int64_t{256} << 10;

Plan forward_plan(const Conv2dGeometry& g) {
  return Plan(g.c / g.groups, g.k / g.groups, g.r, g.s, g.p, g.q, g.stride_h, g.stride_w,
              g.dilation_h, g.dilation_w, Source{g.h, g.w, g.pad_top, g.pad_left});
}

}  // namespace

bool conv2d_direct_pays(const Conv2dGeometry& g, ConvPass pass) {
  // The plan's output rows (dx's for backward-data) must fill at least half of the
  // lanes of their vectors, i.e. be at least 8 wide: 6-wide rows waste 10 of 16 lanes
  // and lose to the GEMM 2:1.
  const int width = pass == ConvPass::backward_data ? g.w : g.q;
  if (width < kLanes / 2) return false;
  switch (pass) {
    case ConvPass::forward: return true;
    // Strides zero-insert dy: stride_h * stride_w times the work.
    case ConvPass::backward_data: return g.stride_h == 1 && g.stride_w == 1;
    // Backward-filter runs at about half the forward tile's FLOP rate; OpenBLAS
    // overtakes it once the GEMM's depth C/G*R*S passes a few hundred. Its lane-wise
    // sums take 64 bytes per weight of a group per thread: at most 1 MiB here.
    case ConvPass::backward_filter: {
      const int depth = g.c / g.groups * g.r * g.s;
      return depth <= 256 && static_cast<int64_t>(g.k / g.groups) * depth <= 16384;
    }
  }
  return false;
}

void conv2d_forward_direct(const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y) {
  const Plan plan = forward_plan(g);
  const std::vector<int> blocks = balanced_blocks(plan.out_channels, kMaxForwardFilters);
  const int64_t w_group =
      static_cast<int64_t>(plan.out_channels) * plan.in_channels * plan.tap_count();
  std::vector<std::vector<float>> filters;
  for (int grp = 0; grp < g.groups; ++grp) {
    const float* wg = w + grp * w_group;
    filters.push_back(pack_filters(plan, blocks, [&](int k, int c, int tap) {
      return wg[(static_cast<int64_t>(k) * plan.in_channels + c) * plan.tap_count() + tap];
    }));
  }
  run_forward(plan, g.n, g.groups, x, bias, filters, blocks, y);
}

void conv2d_backward_data_direct(const Conv2dGeometry& g, const float* dy, const float* w,
                                 float* dx) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  // dx[c][h][w] = sum_{k,i,j} w[k][c][i][j] * dy[k][p][q] with h = p*sh - pad_top + i*dh:
  // a stride-1 convolution, dilated like the layer, of the zero-inserted dy with the
  // filters flipped (i -> r-1-i) and padded by (r-1)*dh - pad_top.
  const Source source{g.p, g.q, (g.r - 1) * g.dilation_h - g.pad_top,
                      (g.s - 1) * g.dilation_w - g.pad_left, g.stride_h, g.stride_w};
  const Plan plan(kg, cg, g.r, g.s, g.h, g.w, 1, 1, g.dilation_h, g.dilation_w, source);
  const std::vector<int> blocks = balanced_blocks(plan.out_channels, kMaxForwardFilters);
  const int taps = plan.tap_count();
  std::vector<std::vector<float>> filters;
  for (int grp = 0; grp < g.groups; ++grp) {
    const float* wg = w + static_cast<int64_t>(grp) * kg * cg * taps;
    filters.push_back(pack_filters(plan, blocks, [&](int c, int k, int tap) {
      return wg[(static_cast<int64_t>(k) * cg + c) * taps + (taps - 1 - tap)];
    }));
  }
  run_forward(plan, g.n, g.groups, dy, nullptr, filters, blocks, dx);
}

void conv2d_backward_filter_direct(const Conv2dGeometry& g, const float* x, const float* dy,
                                   float* dw) {
  const Plan plan = forward_plan(g);
  const int cg = plan.in_channels, kg = plan.out_channels, taps = plan.tap_count();
  const int dy_row = plan.vectors * kLanes;
  const int64_t dy_plane = static_cast<int64_t>(plan.p) * dy_row;
  const std::vector<Slot> slots = output_slots(plan, dy_row);
  const std::vector<int> filter_blocks = balanced_blocks(kg, kMaxFilterBlock);
  const int max_kb = ceil_div(kg, static_cast<int>(filter_blocks.size()) - 1);
  const std::vector<int> tap_blocks =
      balanced_blocks(taps, std::min(kMaxTapBlock, kAccumulators / max_kb));
  const int64_t x_sample = cg * plan.plane, dy_sample = kg * dy_plane;
  const int64_t w_group = static_cast<int64_t>(kg) * cg * taps;
  const int64_t dw_size = w_group * g.groups;
  const int chunks = filter_chunks(g.n, static_cast<int64_t>(g.p) * plan.vectors, kMinChunkVectors);
  const int pack = static_cast<int>(std::clamp<int64_t>(
      kPackBytes / (sizeof(float) * (x_sample + dy_sample)), 1, ceil_div(g.n, chunks)));
  std::vector<float> partial(static_cast<size_t>(chunks) * dw_size);
  const int64_t x_plane = static_cast<int64_t>(g.h) * g.w;
  const int64_t out_plane = static_cast<int64_t>(g.p) * g.q;
#pragma omp parallel
  {
    std::vector<float> xs(pack * x_sample), dys(pack * dy_sample, 0.0f);
    // Lane-wise partial sums per weight (std::vector does not align to 64 bytes).
    std::vector<float> acc(w_group * kLanes);
#pragma omp for schedule(static)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      int begin, end;
      thread_range(g.n, chunk, chunks, begin, end);
      for (int grp = 0; grp < g.groups; ++grp) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int n0 = begin; n0 < end; n0 += pack) {
          const int count = std::min(pack, end - n0);
          for (int b = 0; b < count; ++b) {
            const int64_t unit = static_cast<int64_t>(n0 + b) * g.groups + grp;
            for (int c = 0; c < cg; ++c)
              pack_plane(plan, x + (unit * cg + c) * x_plane,
                         xs.data() + b * x_sample + c * plan.plane);
            for (int k = 0; k < kg; ++k)
              for (int row = 0; row < plan.p; ++row)
                std::copy_n(dy + (unit * kg + k) * out_plane + row * g.q, g.q,
                            dys.data() + b * dy_sample + k * dy_plane + row * dy_row);
          }
          for (size_t fb = 0; fb + 1 < filter_blocks.size(); ++fb) {
            const int k0 = filter_blocks[fb], kb = filter_blocks[fb + 1] - k0;
            for (int c = 0; c < cg; ++c)
              for (size_t tb = 0; tb + 1 < tap_blocks.size(); ++tb) {
                const int j0 = tap_blocks[tb], jb = tap_blocks[tb + 1] - j0;
                const int64_t first_sum = (static_cast<int64_t>(k0) * cg + c) * taps + j0;
                const FilterTile tile{xs.data() + c * plan.plane, dys.data() + k0 * dy_plane,
                                      x_sample, dy_sample, dy_plane, count,
                                      plan.taps.data() + j0, slots.data(),
                                      static_cast<int>(slots.size()),
                                      acc.data() + first_sum * kLanes,
                                      static_cast<int64_t>(cg) * taps};
                filter_tiles[kb - 1][jb - 1](tile);
              }
          }
        }
        float* out = partial.data() + chunk * dw_size + grp * w_group;
        for (int64_t i = 0; i < w_group; ++i) {
          float sum = 0.0f;
          for (int lane = 0; lane < kLanes; ++lane) sum += acc[i * kLanes + lane];
          out[i] = sum;
        }
      }
    }
    sum_chunks(partial.data(), chunks, dw_size, dw);
  }
}

}  // namespace kiln::cpu
