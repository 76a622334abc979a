// Launchers of kernels/activation.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// kind: 0 relu, 1 tanh, 2 sigmoid (kiln::Activation's order).
void activation_forward(int kind, const float* x, float* y, int64_t n, rt::Stream stream);
void activation_backward(int kind, const float* y, const float* dy, float* dx, int64_t n,
                         rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
