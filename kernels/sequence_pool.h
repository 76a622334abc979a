// Launchers of kernels/sequence_pool.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// mode: kiln::SequencePool's order (0 mean, 1 last, 2 last_bidirectional).
// x [steps, batch, features], lengths [batch] (float step counts), y [batch, features].
void sequence_pool_forward(int mode, const float* x, const float* lengths, float* y, int steps,
                           int batch, int features, rt::Stream stream);
// dx [steps, batch, features] overwritten.
void sequence_pool_backward(int mode, const float* lengths, const float* dy, float* dx,
                            int steps, int batch, int features, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
