// Launchers of kernels/linear.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// y[r, j] += bias[j] for a row-major y [rows, cols].
void bias_add(float* y, const float* bias, int64_t rows, int cols, rt::Stream stream);
// db[j] = sum_r dy[r, j] (overwrites db); deterministic, no atomics.
void bias_grad(const float* dy, float* db, int64_t rows, int cols, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
