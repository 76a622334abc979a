// Launchers of kernels/dropout.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// out[i] = in[i] * scale where philox::uniform(seed, offset, i) >= p, else 0.
// Forward (in = x) and backward (in = dy) are the same masked scaling.
void dropout_apply(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                   uint64_t offset, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
