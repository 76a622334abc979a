// Direct convolution on the CPU. Every pass is one "plan": per group,
//   out[ko][p][q] = init[ko] + sum_{ci, i, j} f[ko][ci][i][j] * in[ci][p*sh + i*dh][q*sw + j*dw]
// over input planes copied into a zero-padded "packed" layout, so the inner loops have
// no bounds checks. Backward-data is the same plan run on dy, zero-inserted between
// rows/columns by the strides, with the filters flipped and transposed.
//
// Vectors of L floats run along an output row (q), or, in a "flat" plan (stride 1,
// short rows), across rows at the packed input's row pitch (Plan::flat), or across L
// samples of the batch (Plan::sample_lanes: packed planes [row][column][sample], one
// vector per output pixel, every lane an output), whichever fills more lanes with
// outputs (best_plan says when samples pay for their transposes). A forward
// tile holds KB filters x T vectors of accumulators in registers; per (channel, tap)
// it loads T input vectors and broadcasts KB weights. A packed plane stores each
// padded row split into stride_w phases (columns u with u % stride_w == phase), so
// the T loads are contiguous for any stride and dilation, and every tap is a fixed
// offset from an output vector's base.
//
// Backward-filter holds KB filters x JB taps of lane-wise partial sums in registers
// and walks every output vector of the samples in a pack: per vector, KB dy loads and
// JB x loads feed KB*JB FMAs. Lanes are summed once per batch chunk.
//
// The tiles (conv2d_direct_tiles.inc) are compiled once per instruction-set variant
// (cpu/isa.h), each with its own vector width L and tile limits so that accumulators
// and operands fit its register file without spilling:
//   variant    L   registers  forward KB x T (acc)   backward-filter KB x JB (acc)
//   avx512    16   32 zmm     <= 8 x 4 (24)  + T + 1  <= 4 x 8 (24)  + KB + 1
//   avx2       8   16 ymm     <= 6 x 3 (12)  + T + 1  <= 3 x 4 (12)  + KB + 1
//   baseline   4   16 xmm     <= 6 x 2 (12)  + T + 2  <= 2 x 6 (12)  + KB + 2
// (baseline SSE2 has no FMA: a multiply needs a temporary register). The variant is
// picked per call from cpu::active_isa(), so KILN_CPU_ISA and the tests can force one.
#include "cpu/conv2d_direct.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cpu/conv2d.h"
#include "cpu/isa.h"


namespace kiln::cpu {
namespace {

#define KILN_ALWAYS_INLINE inline __attribute__((always_inline))
// Loops over a tile's KB/T/JB must unroll completely, or its accumulators live in
// memory (GCC -O2 leaves them rolled).
#define KILN_UNROLL _Pragma("GCC unroll 24")

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Where packed row t, padded column u of an input plane come from: the source element
// ((t - pad_top) / insert_h, (u - pad_left) / insert_w) when both divide exactly and
// fall inside; zero otherwise. insert > 1 spreads the source out (backward-data).
struct Source {
  int h, w;
  int pad_top, pad_left;
  int insert_h = 1, insert_w = 1;
};

// Fraction of computed lanes that produce output for rows of q outputs read from
// `used_columns` padded columns: whole vectors per row, or flat (see Plan::flat).
double row_lane_use(int q, int used_columns, int lanes, bool flat) {
  return flat ? static_cast<double>(q) / used_columns
              : static_cast<double>(q) / (ceil_div(q, lanes) * lanes);
}

// One convolution of packed planes, per group (see the file comment).
struct Plan {
  int lanes;  // floats per vector of the variant that runs it
  int in_channels, out_channels;
  int r, s, p, q;
  int stride_h, stride_w, dilation_h, dilation_w;
  Source source;
  // Samples across lanes: a packed plane holds `lanes` samples side by side,
  // [row][column][lane], and each output pixel is one vector whose every lane is an
  // output. Otherwise the vectors run along the plane:
  bool sample_lanes;
  // Flat (stride 1 only): output vectors run over the output plane laid out with the
  // packed input's row pitch, several short rows per vector; the lanes that fall on
  // the pitch's last (s-1)*dilation_w columns compute nothing useful. Otherwise each
  // output row has its own vectors.
  bool flat;
  int vectors;         // per output row, or per plane when flat
  int rows;            // per packed plane
  int used_columns;    // padded columns any output lane < q reads; the rest stay zero
  int phase_len;       // floats per phase of a packed row (sample lanes: per row)
  int64_t row_stride;  // stride_w phases
  int64_t plane;       // floats per packed plane (flat: plus a zero tail for overrun)
  std::vector<int64_t> taps;  // [r*s]: offset of tap (i, j) from an output vector's base

  Plan(int lanes, int in_channels, int out_channels, int r, int s, int p, int q, int stride_h,
       int stride_w, int dilation_h, int dilation_w, const Source& source, bool sample_lanes)
      : lanes(lanes), in_channels(in_channels), out_channels(out_channels), r(r), s(s), p(p), q(q),
        stride_h(stride_h), stride_w(stride_w), dilation_h(dilation_h),
        dilation_w(dilation_w), source(source), sample_lanes(sample_lanes) {
    rows = (p - 1) * stride_h + (r - 1) * dilation_h + 1;
    used_columns = (q - 1) * stride_w + (s - 1) * dilation_w + 1;
    if (sample_lanes) {
      flat = false;
      vectors = q;
      phase_len = used_columns * lanes;
      row_stride = phase_len;
      plane = rows * row_stride;
      for (int i = 0; i < r; ++i)
        for (int j = 0; j < s; ++j)
          taps.push_back((int64_t{i} * dilation_h * used_columns + j * dilation_w) * lanes);
      return;
    }
    flat = stride_h == 1 && stride_w == 1 &&
           row_lane_use(q, used_columns, lanes, true) > row_lane_use(q, used_columns, lanes, false);
    if (flat) {
      vectors = ceil_div((p - 1) * used_columns + q, lanes);
      phase_len = used_columns;
    } else {
      vectors = ceil_div(q, lanes);
      phase_len = vectors * lanes + (s - 1) * dilation_w / stride_w + 1;
    }
    row_stride = static_cast<int64_t>(stride_w) * phase_len;
    plane = rows * row_stride + (flat ? lanes : 0);
    for (int i = 0; i < r; ++i)
      for (int j = 0; j < s; ++j) {
        const int u = j * dilation_w;
        taps.push_back(i * dilation_h * row_stride + (u % stride_w) * phase_len + u / stride_w);
      }
  }
  int tap_count() const { return r * s; }
  // Taps [first, last) of rows i whose packed input row, for some output row in
  // [row_begin, row_end), can hold source data: the other tap rows read only padding
  // (zeros), so skipping them is exact. Padding rows are r-1 of every 2(r-1)+h in a
  // full backward-data plan: LeNet-5's conv2 gradient skips 29% of its work.
  void live_taps(int row_begin, int row_end, int& first, int& last) const {
    const int data_begin = source.pad_top;
    const int data_end = source.pad_top + (source.h - 1) * source.insert_h + 1;
    // Tap row i reads packed row row * stride_h + i * dilation_h.
    const int low = data_begin - (row_end - 1) * stride_h;  // i * dilation_h >= low
    const int high = data_end - row_begin * stride_h;       // i * dilation_h < high
    const int i_first = low <= 0 ? 0 : ceil_div(low, dilation_h);
    const int i_last = high <= 0 ? 0 : std::min(r, ceil_div(high, dilation_h));
    first = std::min(i_first, i_last) * s;
    last = i_last * s;
  }
  // Base of output vector v of row p (flat: of the plane, row 0) in a packed plane.
  int64_t input_base(int row, int v) const {
    return row * stride_h * row_stride + int64_t{v} * (sample_lanes ? stride_w : 1) * lanes;
  }
  // Fraction of the computed lanes that are outputs, for a batch of n.
  double lane_use(int n) const {
    return sample_lanes ? static_cast<double>(n) / (ceil_div(n, lanes) * lanes)
                        : row_lane_use(q, used_columns, lanes, flat);
  }
  // Floats of the packed input planes of one unit (a sample, or `lanes` samples).
  int64_t packed_input() const { return int64_t{in_channels} * plane; }
  // Row pitch and size of an output plane as the tiles write it: flat, the packed
  // pitch with all vectors' lanes; otherwise whole vectors per row.
  int out_pitch() const { return flat ? phase_len : vectors * lanes; }
  int64_t plane_vectors() const { return flat ? vectors : int64_t{p} * vectors; }
  int64_t out_plane() const {
    return flat ? std::max<int64_t>(int64_t{vectors} * lanes, int64_t{p} * phase_len)
                : int64_t{p} * out_pitch();
  }
};

// Source index of packed row (or column) t: (t - pad) / insert when that divides
// exactly and falls inside the source's `extent`; -1 (zero) otherwise.
int source_index(int t, int pad, int insert, int extent) {
  const int a = t - pad;
  if (a < 0 || a > (extent - 1) * insert || a % insert != 0) return -1;
  return a / insert;
}

// Without column insertion, padded columns [first, last) of a packed row hold source
// columns [first - pad_left, last - pad_left); the rest are zero.
void source_columns(const Plan& plan, int& first, int& last) {
  first = std::clamp(plan.source.pad_left, 0, plan.used_columns);
  last = std::clamp(plan.source.pad_left + plan.source.w, first, plan.used_columns);
}

// Copies a source plane into the packed layout of `plan`.
void pack_plane(const Plan& plan, const float* src, float* out) {
  const Source& s = plan.source;
  for (int t = 0; t < plan.rows; ++t) {
    float* row = out + t * plan.row_stride;
    const int a = source_index(t, s.pad_top, s.insert_h, s.h);
    if (a < 0) {
      std::fill(row, row + plan.row_stride, 0.0f);
      continue;
    }
    const float* src_row = src + static_cast<int64_t>(a) * s.w;
    if (plan.stride_w == 1 && s.insert_w == 1) {
      int first, last;
      source_columns(plan, first, last);
      std::fill(row, row + first, 0.0f);
      std::copy(src_row + first - s.pad_left, src_row + last - s.pad_left, row + first);
      std::fill(row + last, row + plan.row_stride, 0.0f);
      continue;
    }
    for (int phase = 0; phase < plan.stride_w; ++phase)
      for (int m = 0; m < plan.phase_len; ++m) {
        const int u = m * plan.stride_w + phase;
        const int b = u < plan.used_columns ? source_index(u, s.pad_left, s.insert_w, s.w) : -1;
        row[phase * plan.phase_len + m] = b >= 0 ? src_row[b] : 0.0f;
      }
  }
  std::fill(out + plan.rows * plan.row_stride, out + plan.plane, 0.0f);  // flat's tail
}

// Samples to lanes and back (lanes[i * L + l] <-> samples[l * sample_stride + i]) are
// both a transpose: to[j * to_stride + i] = from[i * from_stride + j] for i < rows,
// j < cols. Whole 4x4 blocks take four loads, eight shuffles and four stores for 16
// values (SSE2 width, through GCC's vector extensions); the edges go one value at a
// time. One value at a time throughout, these copies took 15% of a LeNet-5 step.
typedef float Float4 __attribute__((vector_size(16)));

KILN_ALWAYS_INLINE void transpose4(Float4& r0, Float4& r1, Float4& r2, Float4& r3) {
  const Float4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
  const Float4 t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
  const Float4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
  const Float4 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
  r0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
  r1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
  r2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
  r3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

void transpose(const float* from, int64_t from_stride, int64_t rows, int64_t cols, float* to,
               int64_t to_stride) {
  const int64_t block_rows = rows / 4 * 4, block_cols = cols / 4 * 4;
  for (int64_t i = 0; i < block_rows; i += 4)
    for (int64_t j = 0; j < block_cols; j += 4) {
      Float4 r[4];
      for (int k = 0; k < 4; ++k)
        std::memcpy(&r[k], from + (i + k) * from_stride + j, sizeof(Float4));
      transpose4(r[0], r[1], r[2], r[3]);
      for (int k = 0; k < 4; ++k) std::memcpy(to + (j + k) * to_stride + i, &r[k], sizeof(Float4));
    }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = i < block_rows ? block_cols : 0; j < cols; ++j)
      to[j * to_stride + i] = from[i * from_stride + j];
}

// Copies one channel of `count` samples (source planes `sample_stride` floats apart)
// into a sample-lanes packed plane; lanes from count on stay zero.
void pack_lanes(const Plan& plan, const float* src, int64_t sample_stride, int count,
                float* out) {
  const Source& s = plan.source;
  std::fill(out, out + plan.plane, 0.0f);
  for (int t = 0; t < plan.rows; ++t) {
    const int a = source_index(t, s.pad_top, s.insert_h, s.h);
    if (a < 0) continue;
    const float* from = src + static_cast<int64_t>(a) * s.w;
    float* to = out + t * plan.row_stride;
    if (s.insert_w == 1) {
      int first, last;
      source_columns(plan, first, last);
      transpose(from + first - s.pad_left, sample_stride, count, last - first,
                to + int64_t{first} * plan.lanes, plan.lanes);
      continue;
    }
    for (int u = 0; u < plan.used_columns; ++u) {
      const int b = source_index(u, s.pad_left, s.insert_w, s.w);
      if (b >= 0) transpose(from + b, sample_stride, count, 1, to + int64_t{u} * plan.lanes, plan.lanes);
    }
  }
}

// Per-thread buffers that keep their memory between calls: fresh vectors of a few
// hundred KiB per call cost a memset and page faults every time (about an eighth of a
// LeNet-5 step under perf). They hold whatever the last call left: users write
// everything they read.
enum ScratchUse { kPackedInput, kFlatOutput, kPackedDy, kLaneSums, kPartialSums, kScratchUses };

float* scratch(ScratchUse use, int64_t floats) {
  thread_local std::array<std::vector<float>, kScratchUses> buffers;
  std::vector<float>& buffer = buffers[use];
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

// An output vector: its base in a packed input plane, its offset in an output
// (forward) or packed dy (backward-filter) plane, and how many of its lanes are real.
struct Slot {
  int64_t in, out;
  int lanes;
  int row_begin, row_end;  // output rows its lanes fall in
};

std::vector<Slot> output_slots(const Plan& plan, int64_t out_row_stride) {
  std::vector<Slot> slots;
  if (plan.flat) {
    for (int v = 0; v < plan.vectors; ++v) {
      const int row_begin = std::min(v * plan.lanes / plan.phase_len, plan.p - 1);
      const int row_end = std::min(((v + 1) * plan.lanes - 1) / plan.phase_len + 1, plan.p);
      slots.push_back({plan.input_base(0, v), int64_t{v} * plan.lanes, plan.lanes, row_begin,
                       row_end});
    }
    return slots;
  }
  for (int row = 0; row < plan.p; ++row)
    for (int v = 0; v < plan.vectors; ++v)
      slots.push_back({plan.input_base(row, v), row * out_row_stride + v * plan.lanes,
                       plan.sample_lanes ? plan.lanes : std::min(plan.lanes, plan.q - v * plan.lanes),
                       row, row + 1});
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

// ---- tiles ----------------------------------------------------------------------

struct ForwardTile {
  const float* in;       // packed planes of the group's input channels
  int64_t in_plane;
  int channels;
  const int64_t* taps;
  int tap_count;
  int tap_begin, tap_end;  // the taps this tile runs (the others read only zeros)
  const float* filters;  // [channel][tap][KB]
  const float* init;     // KB values, or null for zero
  const Slot* slots;     // T
  float* out;            // plane of the block's first filter
  int64_t out_plane;
};

struct FilterTile {
  const float* x;        // packed plane of one input channel, first sample of the pack
  const float* dy;       // packed dy plane of the block's first filter, first sample
  int64_t x_sample, dy_sample, dy_plane;
  int samples;
  const int64_t* taps;   // JB
  const Slot* slots;     // .in: x base, .out: dy offset
  int slot_count;
  float* acc;            // L partial sums per (k, j) at acc + (k * acc_filter + j) * L
  int64_t acc_filter;
};

using ForwardFn = void (*)(const ForwardTile&);
using FilterFn = void (*)(const FilterTile&);

// One variant's tiles and limits (conv2d_direct_tiles.inc).
struct TileSet {
  int lanes;
  int max_forward_filters, max_forward_vectors, forward_accumulators;
  int max_filter_block, max_tap_block, filter_accumulators;
  ForwardFn (*forward)(int kb, int t);
  FilterFn (*filter)(int kb, int jb);
};

// The tile functions take 64-byte vectors in avx512 only and are called through
// pointers, never across variants, so the ABI note does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace avx512 {
constexpr int kLanes = 16;
constexpr int kMaxForwardFilters = 8, kMaxForwardVectors = 4, kForwardAccumulators = 24;
constexpr int kMaxFilterBlock = 4, kMaxTapBlock = 8, kFilterAccumulators = 24;
#include "cpu/conv2d_direct_tiles.inc"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
constexpr int kLanes = 8;
constexpr int kMaxForwardFilters = 6, kMaxForwardVectors = 3, kForwardAccumulators = 12;
constexpr int kMaxFilterBlock = 3, kMaxTapBlock = 4, kFilterAccumulators = 12;
#include "cpu/conv2d_direct_tiles.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif

namespace baseline {
constexpr int kLanes = 4;
constexpr int kMaxForwardFilters = 6, kMaxForwardVectors = 2, kForwardAccumulators = 12;
constexpr int kMaxFilterBlock = 2, kMaxTapBlock = 6, kFilterAccumulators = 12;
#include "cpu/conv2d_direct_tiles.inc"
}  // namespace baseline

const TileSet& tiles_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return avx512::tiles;
  if (isa == Isa::avx2) return avx2::tiles;
#endif
  (void)isa;
  return baseline::tiles;
}

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

// A plan's units of work: samples, or packs of `lanes` samples (sample lanes).
int plan_units(const Plan& plan, int n) { return plan.sample_lanes ? ceil_div(n, plan.lanes) : n; }

// Packs the in_channels source planes of unit `unit`, group `grp`: samples' planes
// start at src, (sample * groups + grp) * in_channels planes of src_plane floats in.
void pack_unit(const Plan& plan, int n, int groups, int unit, int grp, const float* src,
               float* packed) {
  const int64_t src_plane = static_cast<int64_t>(plan.source.h) * plan.source.w;
  if (!plan.sample_lanes) {
    const int64_t first = (static_cast<int64_t>(unit) * groups + grp) * plan.in_channels;
    for (int c = 0; c < plan.in_channels; ++c)
      pack_plane(plan, src + (first + c) * src_plane, packed + c * plan.plane);
    return;
  }
  const int n0 = unit * plan.lanes, count = std::min(plan.lanes, n - n0);
  const int64_t first = (static_cast<int64_t>(n0) * groups + grp) * plan.in_channels;
  for (int c = 0; c < plan.in_channels; ++c)
    pack_lanes(plan, src + (first + c) * src_plane, groups * plan.in_channels * src_plane, count,
               packed + c * plan.plane);
}

// Copies planes written by the tiles (out_channels planes of tile_plane floats, rows
// plan.out_pitch() apart) of unit `unit`, group `grp` to the p x q output planes.
void unpack_unit(const Plan& plan, int n, int groups, int unit, int grp, const float* tile_out,
                 int64_t tile_plane, float* out) {
  const int64_t out_plane = static_cast<int64_t>(plan.p) * plan.q;
  if (!plan.sample_lanes) {
    const int64_t first = (static_cast<int64_t>(unit) * groups + grp) * plan.out_channels;
    for (int k = 0; k < plan.out_channels; ++k)
      for (int row = 0; row < plan.p; ++row)
        std::copy_n(tile_out + k * tile_plane + row * plan.out_pitch(), plan.q,
                    out + (first + k) * out_plane + row * plan.q);
    return;
  }
  const int n0 = unit * plan.lanes, count = std::min(plan.lanes, n - n0);
  const int64_t group_floats = plan.out_channels * out_plane;
  transpose(tile_out, plan.lanes, group_floats, count,
            out + (static_cast<int64_t>(n0) * groups + grp) * group_floats, groups * group_floats);
}

// Packs the out_channels dy planes of unit `unit`, group `grp` as the tiles write y
// (see unpack_unit), with zeros in the lanes that hold no output.
void pack_dy_unit(const Plan& plan, int n, int groups, int unit, int grp, const float* dy,
                  float* packed) {
  const int64_t out_plane = static_cast<int64_t>(plan.p) * plan.q, packed_plane = plan.out_plane();
  const int pitch = plan.out_pitch();
  if (!plan.sample_lanes) {
    const int64_t first = (static_cast<int64_t>(unit) * groups + grp) * plan.out_channels;
    for (int k = 0; k < plan.out_channels; ++k) {
      float* plane = packed + k * packed_plane;
      for (int row = 0; row < plan.p; ++row) {
        std::copy_n(dy + (first + k) * out_plane + row * plan.q, plan.q, plane + row * pitch);
        std::fill(plane + row * pitch + plan.q, plane + (row + 1) * pitch, 0.0f);
      }
      std::fill(plane + plan.p * pitch, plane + packed_plane, 0.0f);
    }
    return;
  }
  const int n0 = unit * plan.lanes, count = std::min(plan.lanes, n - n0);
  // The empty lanes' x is zero too, but stale NaN or inf here would still poison the sums.
  if (count < plan.lanes) std::fill(packed, packed + plan.out_channels * packed_plane, 0.0f);
  const int64_t group_floats = plan.out_channels * out_plane;
  transpose(dy + (static_cast<int64_t>(n0) * groups + grp) * group_floats, groups * group_floats,
            count, group_floats, packed, plan.lanes);
}

// Runs a forward plan: `n` samples, each with `groups` groups of in_channels source
// planes at `src` and out_channels output planes (p x q) at `out`. filters[group] is
// packed by pack_filters with `blocks`; init (per output channel of all groups) may
// be null. A flat or sample-lanes plan's tiles write a per-thread buffer that is then
// copied out; the others write the output.
void run_forward(const TileSet& tiles, const Plan& plan, int n, int groups, const float* src,
                 const float* init, const std::vector<std::vector<float>>& filters,
                 const std::vector<int>& blocks, float* out) {
  const bool buffered = plan.flat || plan.sample_lanes;
  const std::vector<Slot> slots = output_slots(plan, buffered ? plan.out_pitch() : plan.q);
  const int64_t out_plane = static_cast<int64_t>(plan.p) * plan.q;
  const int64_t tile_plane = buffered ? plan.out_plane() : out_plane;
  const int units = plan_units(plan, n);
#pragma omp parallel
  {
    float* packed = scratch(kPackedInput, plan.packed_input());
    float* buffer = buffered ? scratch(kFlatOutput, plan.out_channels * tile_plane) : nullptr;
    int begin, end;
    thread_range(units, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    for (int unit = begin; unit < end; ++unit)
      for (int grp = 0; grp < groups; ++grp) {
        pack_unit(plan, n, groups, unit, grp, src, packed);
        const float* f = filters[grp].data();
        for (size_t b = 0; b + 1 < blocks.size(); ++b) {
          const int k0 = blocks[b], kb = blocks[b + 1] - k0;
          const int per_tile = std::min(tiles.max_forward_vectors, tiles.forward_accumulators / kb);
          const float* block_init = init ? init + grp * plan.out_channels + k0 : nullptr;
          const int64_t first_out = (static_cast<int64_t>(unit) * groups + grp) * plan.out_channels;
          float* tile_out = buffered ? buffer + k0 * tile_plane : out + (first_out + k0) * out_plane;
          ForwardTile tile{packed, plan.plane, plan.in_channels, plan.taps.data(),
                           plan.tap_count(), 0, 0, f, block_init, nullptr, tile_out, tile_plane};
          for (size_t s = 0; s < slots.size(); s += per_tile) {
            const int t = static_cast<int>(std::min<size_t>(per_tile, slots.size() - s));
            tile.slots = slots.data() + s;
            plan.live_taps(tile.slots[0].row_begin, tile.slots[t - 1].row_end, tile.tap_begin,
                           tile.tap_end);
            tiles.forward(kb, t)(tile);
          }
          f += static_cast<int64_t>(kb) * plan.in_channels * plan.tap_count();
        }
        if (buffered) unpack_unit(plan, n, groups, unit, grp, buffer, tile_plane, out);
      }
  }
}

// Output vectors per backward-filter chunk: summing a chunk's lanes costs about as
// much as 16 vectors of work per weight, so chunks are kept well above that.
constexpr int64_t kMinChunkVectors = 256;
// Bytes of packed x and dy per thread for backward-filter's sample packs.
constexpr int64_t kPackBytes = int64_t{256} << 10;

// Samples go across the lanes when they fill more of them than the rows do, the batch
// makes at least kMinLanePacks packs (threads share out packs), a pack's input planes
// take at most kMaxLanePackBytes (they stay in cache), and there are at least
// kMinLaneDensity FMAs per value moved into or out of the lanes (packing transposes
// every input and output value). LeNet-5 (avx2, one thread, against libtorch): conv2's
// 10-wide rows fill 74% of a flat plan's lanes, density 74-86: forward 1.11-1.30x ->
// 0.72-0.77x, backward-data 0.84-0.95x -> 0.75-0.83x, backward-filter 1.52-1.82x ->
// 0.87-0.93x; conv1's 28-wide rows fill 88%, density 17-20: forward 0.41-0.52x ->
// 0.54-0.71x with lanes, so it keeps rows.
constexpr int kMinLanePacks = 4;
constexpr int64_t kMaxLanePackBytes = int64_t{1} << 20;
constexpr double kMinLaneDensity = 48;

template <typename Build>
Plan best_plan(int n, Build build) {
  Plan spatial = build(false), lanes = build(true);
  const double pixels = static_cast<double>(lanes.p) * lanes.q;
  const double moved = static_cast<double>(lanes.in_channels) * lanes.rows * lanes.used_columns +
                       lanes.out_channels * pixels;
  const double fmas =
      static_cast<double>(lanes.out_channels) * lanes.in_channels * lanes.tap_count() * pixels;
  const bool use_lanes = ceil_div(n, lanes.lanes) >= kMinLanePacks &&
                         lanes.packed_input() * int64_t{sizeof(float)} <= kMaxLanePackBytes &&
                         lanes.lane_use(n) > spatial.lane_use(n) &&
                         fmas >= kMinLaneDensity * moved;
  return use_lanes ? std::move(lanes) : std::move(spatial);
}

Plan forward_plan(const Conv2dGeometry& g, int lanes) {
  return best_plan(g.n, [&](bool sample_lanes) {
    return Plan(lanes, g.c / g.groups, g.k / g.groups, g.r, g.s, g.p, g.q, g.stride_h,
                g.stride_w, g.dilation_h, g.dilation_w, Source{g.h, g.w, g.pad_top, g.pad_left},
                sample_lanes);
  });
}

// dx[c][h][w] = sum_{k,i,j} w[k][c][i][j] * dy[k][p][q] with h = p*sh - pad_top + i*dh:
// a stride-1 convolution, dilated like the layer, of the zero-inserted dy with the
// filters flipped (i -> r-1-i) and padded by (r-1)*dh - pad_top.
Plan backward_data_plan(const Conv2dGeometry& g, int lanes) {
  const Source source{g.p, g.q, (g.r - 1) * g.dilation_h - g.pad_top,
                      (g.s - 1) * g.dilation_w - g.pad_left, g.stride_h, g.stride_w};
  return best_plan(g.n, [&](bool sample_lanes) {
    return Plan(lanes, g.k / g.groups, g.c / g.groups, g.r, g.s, g.h, g.w, 1, 1, g.dilation_h,
                g.dilation_w, source, sample_lanes);
  });
}

}  // namespace

bool conv2d_direct_pays(const Conv2dGeometry& g, ConvPass pass) {
  // At least half of the plan's computed lanes must produce output (6-wide rows in
  // 16-lane vectors used 6 of 16 and lost to the GEMM 2:1).
  const int lanes = tiles_for(active_isa()).lanes;
  const Plan plan =
      pass == ConvPass::backward_data ? backward_data_plan(g, lanes) : forward_plan(g, lanes);
  if (plan.lane_use(g.n) < 0.5) return false;
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
  const TileSet& tiles = tiles_for(active_isa());
  const Plan plan = forward_plan(g, tiles.lanes);
  const std::vector<int> blocks = balanced_blocks(plan.out_channels, tiles.max_forward_filters);
  const int64_t w_group =
      static_cast<int64_t>(plan.out_channels) * plan.in_channels * plan.tap_count();
  std::vector<std::vector<float>> filters;
  for (int grp = 0; grp < g.groups; ++grp) {
    const float* wg = w + grp * w_group;
    filters.push_back(pack_filters(plan, blocks, [&](int k, int c, int tap) {
      return wg[(static_cast<int64_t>(k) * plan.in_channels + c) * plan.tap_count() + tap];
    }));
  }
  run_forward(tiles, plan, g.n, g.groups, x, bias, filters, blocks, y);
}

void conv2d_backward_data_direct(const Conv2dGeometry& g, const float* dy, const float* w,
                                 float* dx) {
  const int cg = g.c / g.groups, kg = g.k / g.groups;
  const TileSet& tiles = tiles_for(active_isa());
  const Plan plan = backward_data_plan(g, tiles.lanes);
  const std::vector<int> blocks = balanced_blocks(plan.out_channels, tiles.max_forward_filters);
  const int taps = plan.tap_count();
  std::vector<std::vector<float>> filters;
  for (int grp = 0; grp < g.groups; ++grp) {
    const float* wg = w + static_cast<int64_t>(grp) * kg * cg * taps;
    filters.push_back(pack_filters(plan, blocks, [&](int c, int k, int tap) {
      return wg[(static_cast<int64_t>(k) * cg + c) * taps + (taps - 1 - tap)];
    }));
  }
  run_forward(tiles, plan, g.n, g.groups, dy, nullptr, filters, blocks, dx);
}

void conv2d_backward_filter_direct(const Conv2dGeometry& g, const float* x, const float* dy,
                                   float* dw) {
  const TileSet& tiles = tiles_for(active_isa());
  const int lanes = tiles.lanes;
  const Plan plan = forward_plan(g, lanes);
  const int cg = plan.in_channels, kg = plan.out_channels, taps = plan.tap_count();
  // dy packed as the forward's tiles write y; lanes without an output (past q, or past
  // the batch in the last pack of samples) stay zero and add nothing.
  const int dy_row = plan.out_pitch();
  const int64_t dy_plane = plan.out_plane();
  const int units = plan_units(plan, g.n);
  const std::vector<Slot> slots = output_slots(plan, dy_row);
  const std::vector<int> filter_blocks = balanced_blocks(kg, tiles.max_filter_block);
  const int max_kb = ceil_div(kg, static_cast<int>(filter_blocks.size()) - 1);
  const std::vector<int> tap_blocks =
      balanced_blocks(taps, std::min(tiles.max_tap_block, tiles.filter_accumulators / max_kb));
  const int64_t x_sample = cg * plan.plane, dy_sample = kg * dy_plane;
  const int64_t w_group = static_cast<int64_t>(kg) * cg * taps;
  const int64_t dw_size = w_group * g.groups;
  const int chunks = filter_chunks(units, plan.plane_vectors(), kMinChunkVectors);
  const int pack = static_cast<int>(std::clamp<int64_t>(
      kPackBytes / (sizeof(float) * (x_sample + dy_sample)), 1, ceil_div(units, chunks)));
  float* partial = scratch(kPartialSums, chunks * dw_size);
#pragma omp parallel
  {
    float* xs = scratch(kPackedInput, pack * x_sample);
    float* dys = scratch(kPackedDy, pack * dy_sample);
    // Lane-wise partial sums per weight (unaligned: the tiles load them unaligned).
    float* acc = scratch(kLaneSums, w_group * lanes);
#pragma omp for schedule(static)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      int begin, end;
      thread_range(units, chunk, chunks, begin, end);
      for (int grp = 0; grp < g.groups; ++grp) {
        std::fill(acc, acc + w_group * lanes, 0.0f);
        for (int n0 = begin; n0 < end; n0 += pack) {
          const int count = std::min(pack, end - n0);
          for (int b = 0; b < count; ++b) {
            pack_unit(plan, g.n, g.groups, n0 + b, grp, x, xs + b * x_sample);
            pack_dy_unit(plan, g.n, g.groups, n0 + b, grp, dy, dys + b * dy_sample);
          }
          for (size_t fb = 0; fb + 1 < filter_blocks.size(); ++fb) {
            const int k0 = filter_blocks[fb], kb = filter_blocks[fb + 1] - k0;
            for (int c = 0; c < cg; ++c)
              for (size_t tb = 0; tb + 1 < tap_blocks.size(); ++tb) {
                const int j0 = tap_blocks[tb], jb = tap_blocks[tb + 1] - j0;
                const int64_t first_sum = (static_cast<int64_t>(k0) * cg + c) * taps + j0;
                const FilterTile tile{xs + c * plan.plane, dys + k0 * dy_plane,
                                      x_sample, dy_sample, dy_plane, count,
                                      plan.taps.data() + j0, slots.data(),
                                      static_cast<int>(slots.size()),
                                      acc + first_sum * lanes,
                                      static_cast<int64_t>(cg) * taps};
                tiles.filter(kb, jb)(tile);
              }
          }
        }
        float* out = partial + chunk * dw_size + grp * w_group;
        for (int64_t i = 0; i < w_group; ++i) {
          float sum = 0.0f;
          for (int lane = 0; lane < lanes; ++lane) sum += acc[i * lanes + lane];
          out[i] = sum;
        }
      }
    }
    sum_chunks(partial, chunks, dw_size, dw);
  }
}

}  // namespace kiln::cpu
