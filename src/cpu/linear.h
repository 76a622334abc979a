// CPU backend of the linear layer's bias parts (the products go through kiln::gemm).
#pragma once

#include <cstdint>

namespace kiln::cpu {
// y[r, j] += bias[j] for a row-major y [rows, cols].
void bias_add(float* y, const float* bias, int64_t rows, int cols);
// db[j] = sum over r of dy[r, j] (overwrites db).
void bias_grad(const float* dy, float* db, int64_t rows, int cols);
}  // namespace kiln::cpu
