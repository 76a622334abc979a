// Embedding lookup (forward) and its deterministic backward.
//
// Ids are floats; a valid id is an integer in [0, vocab). A bad id is never used as
// an address: its output row is 0, it adds to no gradient row, and its position goes
// into the caller's status word by a 64-bit atomicMin of (position << 32 | id bits),
// so the record is the smallest bad position whatever the schedule.
//
// forward: 256-thread blocks, grid-stride over the N*E outputs; thread i writes
//   y[i] = table[id(i / E), i % E] (consecutive threads, consecutive columns of one
//   row: coalesced reads and writes). Memory-bound: 2*N*E*4 bytes moved.
//
// backward: dtable[v] = sum of dy[p] over the positions p with id v, in increasing p.
//   Float atomics into dtable would make the sum order (hence the bits) vary from run
//   to run, and one owner per row scanning all N ids costs O(V*N). Instead, as
//   PyTorch's CUDA embedding backward does, sort and segment: (1) one key per
//   position, (id << 32 | p), or all ones for a padding id or a bad id; the keys are
//   unique, so any correct sort gives one order; (2) bitonic sort of the keys,
//   padded to P = 2^k: a 256-thread block sorts each 2048-key tile in shared memory
//   (16 KiB) through every stage up to the tile size; each later stage k runs its
//   substeps of stride >= 2048 as one global compare-exchange launch each (a thread
//   per pair) and its remaining substeps in one shared-memory launch per tile;
//   (3) one warp per table row finds its segment by binary search over the sorted
//   keys and its lanes sum the segment's dy rows column by column (32 consecutive
//   floats per read: coalesced), then write the row, zero for an empty segment.
//   The sum order is increasing p, the CPU backend's order, so cpu, simt and cuda
//   agree bit for bit. Bounds: the row pass is memory-bound (reads dy once, writes
//   dtable once); the sort is O(P log^2 P) compare-exchanges, small next to it for
//   the usual N = T*B of a few thousand and E of hundreds.
// Versions: v1 only. A frequent id's long segment runs on one warp; if that shows,
// v2 would split long segments into fixed chunks summed in a fixed order.
#include "kernels/common.cuh"
#include "kernels/embedding.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 2048;  // keys a block sorts in shared memory
constexpr unsigned long long kNoKey = ~0ull;

// The row of id `v`, or -1 when `v` is not an integer in [0, vocab).
__device__ __forceinline__ int64_t id_row(float v, int64_t vocab) {
  if (!(v >= 0.0f && v < static_cast<float>(vocab))) return -1;
  const int64_t row = static_cast<int64_t>(v);
  return static_cast<float>(row) == v ? row : -1;
}

__device__ __forceinline__ void record_bad(unsigned long long* status, int64_t p, float v) {
  if (status) {
    atomicMin(status, (static_cast<unsigned long long>(p) << 32) | __float_as_uint(v));
  }
}

__global__ void forward_kernel(const float* __restrict__ ids, const float* __restrict__ table,
                               float* __restrict__ y, int64_t n, int dim, int64_t vocab,
                               unsigned long long* status) {
  KILN_GRID_STRIDE_LOOP(i, n * dim) {
    const int64_t p = i / dim;
    const int c = static_cast<int>(i % dim);
    const int64_t row = id_row(ids[p], vocab);
    y[i] = row >= 0 ? table[row * dim + c] : 0.0f;
    if (row < 0 && c == 0) record_bad(status, p, ids[p]);
  }
}

__global__ void keys_kernel(const float* __restrict__ ids, unsigned long long* __restrict__ keys,
                            int64_t n, int64_t slots, int64_t vocab, int padding_idx,
                            unsigned long long* status) {
  KILN_GRID_STRIDE_LOOP(p, slots) {
    unsigned long long key = kNoKey;
    if (p < n) {
      const int64_t row = id_row(ids[p], vocab);
      if (row < 0) record_bad(status, p, ids[p]);
      if (row >= 0 && row != padding_idx) {
        key = (static_cast<unsigned long long>(row) << 32) | static_cast<unsigned long long>(p);
      }
    }
    keys[p] = key;
  }
}

// Compare-exchange of keys i < l = i + j within a bitonic stage k: ascending where
// bit k of the global index i is clear.
__device__ __forceinline__ void order_pair(unsigned long long& a, unsigned long long& b,
                                           int64_t i, int64_t k) {
  const bool ascending = (i & k) == 0;
  if ((a > b) == ascending) {
    const unsigned long long t = a;
    a = b;
    b = t;
  }
}

// Pair q of a substep with stride j: its lower index.
__device__ __forceinline__ int64_t pair_low(int64_t q, int64_t j) {
  return (q / j) * 2 * j + q % j;
}

// Sorts (or merges) each tile of `tile` keys in shared memory: stages k_first ..
// k_last (powers of two), each from stride min(k / 2, tile / 2) down to 1.
__global__ void tile_kernel(unsigned long long* __restrict__ keys, int tile, int64_t k_first,
                            int64_t k_last) {
  __shared__ unsigned long long s[kTile];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * tile;
  for (int i = threadIdx.x; i < tile; i += blockDim.x) s[i] = keys[base + i];
  __syncthreads();
  for (int64_t k = k_first; k <= k_last; k <<= 1) {
    for (int64_t j = (k / 2 < tile / 2 ? k / 2 : tile / 2); j >= 1; j >>= 1) {
      for (int q = threadIdx.x; q < tile / 2; q += blockDim.x) {
        const int64_t i = pair_low(q, j);
        order_pair(s[i], s[i + j], base + i, k);
      }
      __syncthreads();
    }
  }
  for (int i = threadIdx.x; i < tile; i += blockDim.x) keys[base + i] = s[i];
}

// One substep (stride j >= tile) of stage k over all keys: a thread per pair.
__global__ void global_step_kernel(unsigned long long* __restrict__ keys, int64_t slots,
                                   int64_t k, int64_t j) {
  KILN_GRID_STRIDE_LOOP(q, slots / 2) {
    const int64_t i = pair_low(q, j);
    order_pair(keys[i], keys[i + j], i, k);
  }
}

// First index in sorted keys[0, slots) whose key is >= `key`.
__device__ __forceinline__ int64_t lower_bound(const unsigned long long* keys, int64_t slots,
                                               unsigned long long key) {
  int64_t lo = 0, hi = slots;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (keys[mid] < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

__global__ void rows_kernel(const unsigned long long* __restrict__ keys,
                            const float* __restrict__ dy, float* __restrict__ dtable,
                            int64_t slots, int64_t vocab, int dim) {
  const int lane = threadIdx.x % 32;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; row < vocab;
       row += static_cast<int64_t>(gridDim.x) * kWarps) {
    const unsigned long long first = static_cast<unsigned long long>(row) << 32;
    const int64_t begin = lower_bound(keys, slots, first);
    const int64_t end = lower_bound(keys, slots, first + (1ull << 32));
    for (int c = lane; c < dim; c += 32) {
      float sum = 0.0f;
      for (int64_t s = begin; s < end; ++s) {
        const int64_t p = static_cast<int64_t>(keys[s] & 0xffffffffull);
        sum += dy[p * dim + c];
      }
      dtable[row * dim + c] = sum;
    }
  }
}

int64_t sort_slots(int64_t n) {
  int64_t slots = 1;
  while (slots < n) slots <<= 1;
  return slots;
}

void sort_keys(unsigned long long* keys, int64_t slots, rt::Stream s) {
  const int tile = static_cast<int>(slots < kTile ? slots : kTile);
  const unsigned tiles = static_cast<unsigned>(slots / tile);
  launch(tile_kernel, dim3(tiles), dim3(kThreads), 0, s, keys, tile, int64_t{2},
         static_cast<int64_t>(tile));
  for (int64_t k = 2 * static_cast<int64_t>(tile); k <= slots; k <<= 1) {
    for (int64_t j = k / 2; j >= tile; j >>= 1) {
      launch(global_step_kernel, grid_stride_grid(slots / 2, kThreads), dim3(kThreads), 0, s,
             keys, slots, k, j);
    }
    launch(tile_kernel, dim3(tiles), dim3(kThreads), 0, s, keys, tile, k, k);
  }
}

}  // namespace

int64_t embedding_key_slots(int64_t n) { return sort_slots(n); }

void embedding_forward(const float* ids, const float* table, float* y, int64_t n, int dim,
                       int64_t vocab, unsigned long long* status, rt::Stream s) {
  launch(forward_kernel, grid_stride_grid(n * dim, kThreads), dim3(kThreads), 0, s, ids, table,
         y, n, dim, vocab, status);
}

void embedding_backward(const float* ids, const float* dy, float* dtable,
                        unsigned long long* keys, int64_t n, int64_t vocab, int dim,
                        int padding_idx, unsigned long long* status, rt::Stream s) {
  const int64_t slots = sort_slots(n);
  launch(keys_kernel, grid_stride_grid(slots, kThreads), dim3(kThreads), 0, s, ids, keys, n,
         slots, vocab, padding_idx, status);
  sort_keys(keys, slots, s);
  const int64_t blocks = (vocab + kWarps - 1) / kWarps;
  launch(rows_kernel, dim3(static_cast<unsigned>(blocks < 4096 ? blocks : 4096)),
         dim3(kThreads), 0, s, keys, dy, dtable, slots, vocab, dim);
}

}  // namespace kiln::KILN_BACKEND
