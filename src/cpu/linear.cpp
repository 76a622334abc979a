#include "cpu/linear.h"

#include <algorithm>

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
  // Threads take blocks of columns; each block sums row by row, so the inner loop streams
  // contiguous memory and vectorises, and every sum runs in row order whatever the threads.
  constexpr int kBlock = 512;
  const int blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for if (rows * cols > (1 << 18))
  for (int b = 0; b < blocks; ++b) {
    const int begin = b * kBlock, end = std::min(cols, begin + kBlock);
    for (int j = begin; j < end; ++j) db[j] = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = dy + r * cols;
#pragma omp simd
      for (int j = begin; j < end; ++j) db[j] += row[j];
    }
  }
}

}  // namespace kiln::cpu
