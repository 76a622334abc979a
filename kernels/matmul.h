// Launchers of kernels/matmul.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// c[m,n] = a[m,k] * b[k,n], all row-major and contiguous.
void matmul(const float* a, const float* b, float* c, int m, int n, int k, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
