// Many-to-one pooling of a padded, time-major sequence batch over each sequence's
// valid steps (a classifier's head after a recurrent layer):
//   x [T, B, F], lengths [B] (float step counts in 0..T, on x's device), y [B, F].
//   mean               y[b] = sum_{t < L_b} x[t, b] / L_b      (zeros when L_b = 0)
//   last               y[b] = x[L_b - 1, b]                    (zeros when L_b = 0)
//   last_bidirectional the first F/2 features from x[L_b - 1, b] (the forward
//                      direction's final state), the last F/2 from x[0, b] (the
//                      reverse direction's final state: it ends at step 0); F even
// Steps at or past L_b never contribute and get a zero gradient.
#pragma once

#include <string>

#include "kiln/tensor.h"

namespace kiln {

enum class SequencePool { mean, last, last_bidirectional };

SequencePool parse_sequence_pool(const std::string& name);  // throws listing the modes
const char* sequence_pool_name(SequencePool mode);

namespace ops {
void sequence_pool_forward(SequencePool mode, const Tensor& x, const Tensor& lengths, Tensor& y);
// dx [T, B, F] is overwritten (zeros outside the pooled steps).
void sequence_pool_backward(SequencePool mode, const Tensor& lengths, const Tensor& dy,
                            Tensor& dx);
}  // namespace ops

}  // namespace kiln
