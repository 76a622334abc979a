// CPU backend of the optimiser updates and the clipping norm (same formulas as
// kernels/optimizer.cu; `scale` is a host pointer or null).
#pragma once

#include <cstdint>

namespace kiln::cpu {
void sum_squares_accumulate(const float* x, int64_t n, float* acc);
void clip_scale(const float* sum_squares, float max_norm, float* scale);
void sgd_update(float* w, const float* g, float* m, int64_t n, float lr, float momentum,
                float weight_decay, const float* scale);
void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, float bias1, float bias2,
                 const float* scale);
}  // namespace kiln::cpu
