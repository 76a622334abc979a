#include "kiln/ops/softmax_cross_entropy.h"

#include "cpu/softmax_cross_entropy.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

namespace {

constexpr const char* kOp = "softmax_cross_entropy";

// logits [N, C] and labels [N] on one device.
void check_rows(const Tensor& logits, const Tensor& labels) {
  check_defined(kOp, logits, "logits");
  check_defined(kOp, labels, "labels");
  check_same_device(kOp, logits, labels);
  KILN_CHECK(logits.rank() == 2 && logits.dim(0) >= 1 && logits.dim(1) >= 1, kOp,
             ": logits must be [batch, classes] with both >= 1, got ", shape_str(logits.shape()));
  KILN_CHECK(labels.shape() == Shape({logits.dim(0)}), kOp, ": labels are ",
             shape_str(labels.shape()), " but logits ", shape_str(logits.shape()), " need [",
             logits.dim(0), "]");
}

void check_scalar(const Tensor& t, const Tensor& logits, const char* name) {
  check_defined(kOp, t, name);
  check_same_device(kOp, t, logits);
  KILN_CHECK(t.numel() == 1, kOp, ": ", name, " must hold one element, got ",
             shape_str(t.shape()));
}

}  // namespace

void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& probs,
                                   Tensor& loss, int ignore_index) {
  check_rows(logits, labels);
  check_same_shape(kOp, logits, probs);
  check_scalar(loss, logits, "loss");
  const int64_t rows = logits.dim(0);
  const int classes = static_cast<int>(logits.dim(1));
  if (logits.device().is_cpu()) {
    return cpu::softmax_xent_forward(logits.data(), labels.data(), probs.data(), loss.data(),
                                     rows, classes, ignore_index);
  }
  Tensor scratch({rows * simt_kernels::kSoftmaxXentScratchPerRow}, logits.device());
  KILN_KERNEL(logits.device(), softmax_xent_forward, logits.data(), labels.data(), probs.data(),
              loss.data(), scratch.data(), rows, classes, ignore_index);
}

void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits,
                                    int ignore_index) {
  check_rows(probs, labels);
  check_same_shape(kOp, probs, dlogits);
  const int64_t rows = probs.dim(0);
  const int classes = static_cast<int>(probs.dim(1));
  if (probs.device().is_cpu()) {
    return cpu::softmax_xent_backward(probs.data(), labels.data(), dlogits.data(), rows, classes,
                                      ignore_index);
  }
  Tensor count({1}, probs.device());
  KILN_KERNEL(probs.device(), softmax_xent_backward, probs.data(), labels.data(), dlogits.data(),
              count.data(), rows, classes, ignore_index);
}

void count_correct(const Tensor& logits, const Tensor& labels, Tensor& correct,
                   int ignore_index) {
  check_rows(logits, labels);
  check_scalar(correct, logits, "correct");
  const int64_t rows = logits.dim(0);
  const int classes = static_cast<int>(logits.dim(1));
  if (logits.device().is_cpu()) {
    return cpu::count_correct(logits.data(), labels.data(), correct.data(), rows, classes,
                              ignore_index);
  }
  KILN_KERNEL(logits.device(), count_correct, logits.data(), labels.data(), correct.data(), rows,
              classes, ignore_index);
}

}  // namespace kiln::ops
