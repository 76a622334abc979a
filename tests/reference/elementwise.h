// Naive double-precision references for the foundation ops.
#pragma once

#include <vector>

namespace kiln::reference {

inline std::vector<double> sum_all(const std::vector<float>& x) {
  double total = 0;
  for (float v : x) total += v;
  return {total};
}

// c[m,n] = a[m,k] b[k,n], row-major.
inline std::vector<double> matmul(const std::vector<float>& a, const std::vector<float>& b, int m,
                                  int n, int k) {
  std::vector<double> c(static_cast<size_t>(m) * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double acc = 0;
      for (int p = 0; p < k; ++p) acc += static_cast<double>(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = acc;
    }
  return c;
}

}  // namespace kiln::reference
