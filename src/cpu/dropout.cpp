// Element i keeps with philox::uniform(seed, offset, i) >= p, i.e. word i % 4 of the
// Philox block at counter offset + i / 4: each block is generated once and its four
// words used for four consecutive elements. Blocks are computed kBatch at a time in a
// SIMD loop (the 32x32->64 multiplies vectorise), then applied.
#include "cpu/dropout.h"

#include <algorithm>

#include "kiln/philox.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBatch = 16;  // Philox blocks per SIMD batch: 64 elements

// Elements [first, last) (first a multiple of 4) of the stream.
void apply_range(const float* in, float* out, int64_t first, int64_t last, float p, float scale,
                 uint64_t seed, uint64_t offset) {
  for (int64_t base = first; base < last; base += 4 * kBatch) {
    uint32_t words[4][kBatch];
    const uint64_t counter = offset + static_cast<uint64_t>(base) / 4;
#pragma omp simd
    for (int b = 0; b < kBatch; ++b) {
      const philox::Block block = philox::generate(seed, counter + static_cast<uint64_t>(b));
      for (int word = 0; word < 4; ++word) words[word][b] = block.v[word];
    }
    const int64_t count = std::min<int64_t>(4 * kBatch, last - base);
    for (int64_t e = 0; e < count; ++e) {
      const float u = philox::to_unit_float(words[e % 4][e / 4]);
      out[base + e] = u >= p ? in[base + e] * scale : 0.0f;
    }
  }
}

}  // namespace

void dropout_apply(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                   uint64_t offset) {
  constexpr int64_t kSpan = 4 * kBatch * 64;  // elements per parallel task
  const int64_t spans = (n + kSpan - 1) / kSpan;
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t span = 0; span < spans; ++span) {
    apply_range(in, out, span * kSpan, std::min(n, (span + 1) * kSpan), p, scale, seed, offset);
  }
}

}  // namespace kiln::cpu
