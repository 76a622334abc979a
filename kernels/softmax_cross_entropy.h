// Launchers of kernels/softmax_cross_entropy.cu (no include guard: see
// kernels/elementwise.h). logits/probs/dlogits [rows, classes], labels [rows].
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// Floats of scratch memory the forward needs per row (its loss and its count).
constexpr int64_t kSoftmaxXentScratchPerRow = 2;
// probs = softmax(logits); loss[0] = mean of -log probs[label] over counted rows
// (0 when none counts). scratch: rows * kSoftmaxXentScratchPerRow floats.
void softmax_xent_forward(const float* logits, const float* labels, float* probs, float* loss,
                          float* scratch, int64_t rows, int classes, int ignore_index,
                          rt::Stream stream);
// dlogits = (probs - onehot) / counted rows, 0 on ignored rows. scratch: 1 float.
void softmax_xent_backward(const float* probs, const float* labels, float* dlogits,
                           float* scratch, int64_t rows, int classes, int ignore_index,
                           rt::Stream stream);
// correct[0] += counted rows whose first arg-max is the label.
void count_correct(const float* logits, const float* labels, float* correct, int64_t rows,
                   int classes, int ignore_index, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
