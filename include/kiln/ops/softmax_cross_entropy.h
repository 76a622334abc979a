// Fused, numerically stable softmax + cross-entropy over the last dimension.
//   logits [N, C]; labels [N] holding class ids as floats (exact below 2^24);
//   rows whose label equals ignore_index count for nothing (padded positions).
//   loss [1] = mean over counted rows of -log softmax(logits)[label].
// Everything stays on the device: no host synchronisation.
#pragma once

#include "kiln/tensor.h"

namespace kiln::ops {

constexpr int kNoIgnoreIndex = -1000000;

// probs [N, C] receives the softmax (kept for the backward).
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& probs,
                                   Tensor& loss, int ignore_index = kNoIgnoreIndex);
// dlogits = (probs - onehot(label)) / counted rows; zero for ignored rows.
void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits,
                                    int ignore_index = kNoIgnoreIndex);
// correct [1] += number of counted rows whose arg-max logit is the label (first
// maximum wins ties). Accumulates so metrics can be summed over steps on the device.
void count_correct(const Tensor& logits, const Tensor& labels, Tensor& correct,
                   int ignore_index = kNoIgnoreIndex);

}  // namespace kiln::ops
