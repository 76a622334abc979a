// CPU backend of fused softmax + cross-entropy and arg-max accuracy (same
// conventions as kernels/softmax_cross_entropy.cu).
#pragma once

#include <cstdint>

namespace kiln::cpu {
void softmax_xent_forward(const float* logits, const float* labels, float* probs, float* loss,
                          int64_t rows, int classes, int ignore_index);
void softmax_xent_backward(const float* probs, const float* labels, float* dlogits, int64_t rows,
                           int classes, int ignore_index);
void count_correct(const float* logits, const float* labels, float* correct, int64_t rows,
                   int classes, int ignore_index);
}  // namespace kiln::cpu
