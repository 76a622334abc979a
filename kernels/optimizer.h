// Launchers of kernels/optimizer.cu (no include guard: see kernels/elementwise.h).
// The sum of squares for clipping is kernels/reduce.h's sum_squares_accumulate.
// `scale` points to one device float that multiplies every gradient (the global
// norm clipping factor), or is null for no clipping.
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// scale[0] = min(1, max_norm / (sqrt(sum_squares[0]) + 1e-6)).
void clip_scale(const float* sum_squares, float max_norm, float* scale, rt::Stream stream);
// g' = g * scale + weight_decay * w;  m = momentum * m + g';  w -= lr * m.
void sgd_update(float* w, const float* g, float* m, int64_t n, float lr, float momentum,
                float weight_decay, const float* scale, rt::Stream stream);
// g' = g * scale + weight_decay * w; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
// w -= lr * (m / bias1) / (sqrt(v / bias2) + eps), bias_k = 1 - beta_k^step.
void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, float bias1, float bias2,
                 const float* scale, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
