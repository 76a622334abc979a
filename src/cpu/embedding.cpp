#include "cpu/embedding.h"

#include <algorithm>
#include <cstring>

namespace kiln::cpu {

namespace {
// Columns each thread owns in the backward: every thread walks all positions in
// order over its own columns, so the sums are the serial ones for any thread count.
constexpr int kColumnChunk = 64;
}  // namespace

int64_t embedding_first_bad_id(const float* ids, int64_t n, int64_t vocab) {
  for (int64_t p = 0; p < n; ++p) {
    const float v = ids[p];
    const bool valid = v >= 0.0f && v < static_cast<float>(vocab) &&
                       static_cast<float>(static_cast<int64_t>(v)) == v;
    if (!valid) return p;
  }
  return -1;
}

void embedding_forward(const float* ids, const float* table, float* y, int64_t n, int dim) {
#pragma omp parallel for if (n * dim > (1 << 16))
  for (int64_t p = 0; p < n; ++p) {
    const int64_t row = static_cast<int64_t>(ids[p]);
    std::memcpy(y + p * dim, table + row * dim, sizeof(float) * dim);
  }
}

void embedding_backward(const float* ids, const float* dy, float* dtable, int64_t n,
                        int64_t vocab, int dim, int padding_idx) {
  std::memset(dtable, 0, sizeof(float) * vocab * dim);
  const int chunks = (dim + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for if (n * dim > (1 << 16))
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int c0 = chunk * kColumnChunk, c1 = std::min(dim, c0 + kColumnChunk);
    for (int64_t p = 0; p < n; ++p) {
      const int64_t row = static_cast<int64_t>(ids[p]);
      if (row == padding_idx) continue;
      float* out = dtable + row * dim;
      const float* in = dy + p * dim;
#pragma omp simd
      for (int c = c0; c < c1; ++c) out[c] += in[c];
    }
  }
}

}  // namespace kiln::cpu
