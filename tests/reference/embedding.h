// Naive double-precision embedding lookup: y[p, :] = table[ids[p], :] for ids as
// floats (integers in [0, vocab)), table [vocab, dim].
#pragma once

#include <vector>

namespace kiln::reference {

inline std::vector<double> embedding_forward(const std::vector<float>& ids,
                                             const std::vector<double>& table, int dim) {
  std::vector<double> y;
  y.reserve(ids.size() * dim);
  for (float id : ids) {
    const auto row = static_cast<std::size_t>(id);
    y.insert(y.end(), table.begin() + row * dim, table.begin() + (row + 1) * dim);
  }
  return y;
}

// dtable[v, :] = sum of dy[p, :] over the positions with id v; the padding_idx row
// (-1: none) is a constant of the model and gets zero.
inline std::vector<double> embedding_backward(const std::vector<float>& ids,
                                              const std::vector<double>& dy, int vocab,
                                              int dim, int padding_idx) {
  std::vector<double> dtable(static_cast<std::size_t>(vocab) * dim, 0.0);
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const int row = static_cast<int>(ids[p]);
    if (row == padding_idx) continue;
    for (int c = 0; c < dim; ++c) dtable[row * dim + c] += dy[p * dim + c];
  }
  return dtable;
}

}  // namespace kiln::reference
