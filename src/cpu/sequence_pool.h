// CPU backend of ops::sequence_pool_* (kiln/ops/sequence_pool.h); mode is
// kiln::SequencePool's order (0 mean, 1 last, 2 last_bidirectional).
#pragma once

#include <cstdint>

namespace kiln::cpu {
void sequence_pool_forward(int mode, const float* x, const float* lengths, float* y, int steps,
                           int batch, int features);
void sequence_pool_backward(int mode, const float* lengths, const float* dy, float* dx,
                            int steps, int batch, int features);
}  // namespace kiln::cpu
