// CPU backend of the element-wise, activation and reduction ops (OpenMP loops).
#pragma once

#include <cstdint>

namespace kiln::cpu {
void fill(float* y, float value, int64_t n);
void scale(float* y, float alpha, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void add(const float* a, const float* b, float* out, int64_t n);
void mul(const float* a, const float* b, float* out, int64_t n);
void uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void activation_forward(int kind, const float* x, float* y, int64_t n);
void activation_backward(int kind, const float* y, const float* dy, float* dx, int64_t n);
float sum(const float* x, int64_t n);
}  // namespace kiln::cpu
