// CPU backend of the embedding lookup (same conventions as kernels/embedding.cu).
// The op checks the ids first (embedding_first_bad_id), so the others may assume
// every id is an integer in [0, vocab).
#pragma once

#include <cstdint>

namespace kiln::cpu {
// Position of the first id that is not an integer in [0, vocab), or -1 when all are.
int64_t embedding_first_bad_id(const float* ids, int64_t n, int64_t vocab);
// y[p, :] = table[ids[p], :] for p < n; rows of `dim` floats.
void embedding_forward(const float* ids, const float* table, float* y, int64_t n, int dim);
// dtable [vocab, dim] = 0, then row ids[p] += dy[p, :] for p = 0, 1, ... in order,
// skipping padding_idx (-1: none).
void embedding_backward(const float* ids, const float* dy, float* dtable, int64_t n,
                        int64_t vocab, int dim, int padding_idx);
}  // namespace kiln::cpu
