// CPU backend of inverted dropout (same mask as kernels/dropout.cu).
#pragma once

#include <cstdint>

namespace kiln::cpu {
// out[i] = in[i] * scale where philox::uniform(seed, offset, i) >= p, else 0.
void dropout_apply(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                   uint64_t offset);
}  // namespace kiln::cpu
