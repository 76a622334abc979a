// cuDNN reference path of the recurrent op (compiled only with CUDA; engine cudnn).
// Same arguments as ops::rnn_forward / ops::rnn_backward minus the engine; ops::rnn_*
// checked shapes and devices before dispatching here. What this path cannot do is an
// error that says so: peephole LSTMs, dropout, zero-length sequences.
#pragma once

#include <vector>

#include "kiln/ops/rnn.h"

namespace kiln::cudnn {

void rnn_forward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                 const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                 Tensor& y, Tensor* hn, Tensor* cn, RnnReserve* reserve,
                 const RnnDropout& dropout);

void rnn_backward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                  const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                  const Tensor& y, const Tensor& dy, const Tensor* dhn, const Tensor* dcn,
                  const RnnReserve& reserve, Tensor* dx, Tensor* dh0, Tensor* dc0,
                  const std::vector<Tensor*>& grads, const RnnDropout& dropout);

}  // namespace kiln::cudnn
