#include "cpu/linear.h"

namespace kiln::cpu {

void bias_add(float* y, const float* bias, int64_t rows, int cols) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * cols;
#pragma omp simd
    for (int j = 0; j < cols; ++j) row[j] += bias[j];
  }
}

void bias_grad(const float* dy, float* db, int64_t rows, int cols) {
  for (int j = 0; j < cols; ++j) db[j] = 0.0f;
  // Row by row so the inner loop streams contiguous memory and vectorises.
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = dy + r * cols;
#pragma omp simd
    for (int j = 0; j < cols; ++j) db[j] += row[j];
  }
}

}  // namespace kiln::cpu
