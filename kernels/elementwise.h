// Launchers of kernels/elementwise.cu. No include guard: src/ops/kernels.h includes
// this once per kernel build (KILN_BACKEND = simt_kernels, cuda_kernels).
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
void fill(float* y, float value, int64_t n, rt::Stream stream);
void scale(float* y, float alpha, int64_t n, rt::Stream stream);
void axpy(float alpha, const float* x, float* y, int64_t n, rt::Stream stream);
void add(const float* a, const float* b, float* out, int64_t n, rt::Stream stream);
void mul(const float* a, const float* b, float* out, int64_t n, rt::Stream stream);
void uniform(float* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi,
             rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
