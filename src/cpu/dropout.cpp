// Element i keeps with philox::uniform(seed, offset, i) >= p, i.e. word i % 4 of the
// Philox block at counter offset + i / 4: each block is generated once and its four
// words used for four consecutive elements. Blocks are computed kBatch at a time in a
// SIMD loop (the 32x32->64 multiplies vectorise), then applied. The loop is compiled per
// instruction-set variant (cpu/isa.h): on AVX-512 it runs ~8x faster per element than the
// baseline build (docs/BENCHMARKS.md); the mask is the same bit for bit in every variant.
#include "cpu/dropout.h"

#include <algorithm>

#include "cpu/isa.h"
#include "kiln/philox.h"

namespace kiln::cpu {

namespace {

constexpr int64_t kBatch = 16;  // Philox blocks per SIMD batch: 64 elements

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx2,fma")
namespace avx512 {
#include "cpu/dropout_range.inc"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#include "cpu/dropout_range.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif

namespace baseline {
#include "cpu/dropout_range.inc"
}  // namespace baseline

using RangeFn = void (*)(const float*, float*, int64_t, int64_t, float, float, uint64_t, uint64_t);

RangeFn range_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return avx512::apply_range;
  if (isa == Isa::avx2) return avx2::apply_range;
#endif
  (void)isa;
  return baseline::apply_range;
}

}  // namespace

void dropout_apply(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                   uint64_t offset) {
  constexpr int64_t kSpan = 4 * kBatch * 64;  // elements per parallel task
  const int64_t spans = (n + kSpan - 1) / kSpan;
  const RangeFn apply_range = range_for(active_isa());
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t span = 0; span < spans; ++span) {
    apply_range(in, out, span * kSpan, std::min(n, (span + 1) * kSpan), p, scale, seed, offset);
  }
}

}  // namespace kiln::cpu
