#include "cpu/dropout.h"

#include "kiln/philox.h"

namespace kiln::cpu {

void dropout_apply(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                   uint64_t offset) {
#pragma omp parallel for if (n > (1 << 14))
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = philox::uniform(seed, offset, static_cast<uint64_t>(i)) >= p;
    out[i] = keep ? in[i] * scale : 0.0f;
  }
}

}  // namespace kiln::cpu
