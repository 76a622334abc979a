// Launchers of kernels/reduce.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// Floats of scratch memory the sums need (one partial per pass-1 block).
constexpr int64_t kSumWorkspaceFloats = 256;
// out[0] = sum of x[0..n), deterministic (fixed reduction tree, no atomics).
void sum(const float* x, int64_t n, float* workspace, float* out, rt::Stream stream);
// acc[0] += sum of x[i]^2, equally deterministic (global-norm clipping, weight checks).
void sum_squares_accumulate(const float* x, int64_t n, float* workspace, float* acc,
                            rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
