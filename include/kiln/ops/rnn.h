// Recurrent layers over whole sequences: LSTM (optionally with Graves 2013 peepholes), GRU
// (PyTorch/cuDNN equations) and Elman RNN (tanh, relu); stacked, optionally bidirectional,
// with per-sequence lengths. Equations, layouts and the masking rules: docs/RECURRENT.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/ops/engine.h"
#include "kiln/runtime.h"
#include "kiln/tensor.h"

namespace kiln {

enum class RnnMode { lstm, gru, rnn_tanh, rnn_relu };
int rnn_gate_count(RnnMode mode);         // 4, 3, 1, 1
const char* rnn_mode_name(RnnMode mode);  // "lstm", "gru", "rnn_tanh", "rnn_relu"

struct RnnConfig {
  RnnMode mode = RnnMode::lstm;
  int input_size = 0;      // F
  int hidden_size = 0;     // H
  int num_layers = 1;
  bool bidirectional = false;
  bool peepholes = false;  // lstm only (Graves 2013): w_ci, w_cf on c(t-1), w_co on c(t)
  float dropout = 0.0f;    // on the outputs of every layer but the last, training only
  int directions() const { return bidirectional ? 2 : 1; }
};

// One parameter tensor per (layer k, direction), in this order, named as PyTorch's
// nn.LSTM / nn.GRU / nn.RNN (suffix "_reverse" for direction 1):
//   weight_ih_l{k}   [G*H, in_k]   in_0 = F, in_k = H * directions for k > 0
//   weight_hh_l{k}   [G*H, H]
//   bias_ih_l{k}     [G*H]
//   bias_hh_l{k}     [G*H]
//   weight_ch_l{k}   [3*H]         only with peepholes: w_ci, w_cf, w_co (kiln's own name)
// Gate blocks inside the G*H rows: lstm (i, f, g, o); gru (r, z, n); rnn: one block.
struct RnnParamSpec {
  std::string name;
  Shape shape;
};
std::vector<RnnParamSpec> rnn_param_specs(const RnnConfig& config);

// Dropout between layers: Philox (seed, offset) as ops::dropout, a different offset per layer:
// layer k's output uses offset + k * ceil(T*B*D*H / 4), so a call consumes (L-1) times that.
struct RnnDropout {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

// What forward saves for backward (cuDNN calls it the reserve space). Filled by a training
// forward, read by backward; the engine that filled it must be the one that reads it.
struct RnnReserve {
  std::vector<Tensor> saved;  // native engine: per (layer, direction) activations etc.
  rt::Buffer cudnn_reserve;   // cudnn engine: cuDNN's reserve space
  // Native engine: both passes' scratch (gate buffers, packed GEMM operands), kept here so a
  // loop that reuses its reserve allocates and first-touches it once. Not state: every call
  // overwrites it before reading, hence mutable (backward takes the reserve const).
  mutable std::vector<Tensor> scratch;
};

namespace ops {
// x [T, B, F] (time-major). lengths [B]: whole float values in 0..T on x's device (null: all
//   T; 0 gives zero outputs and hn = h0 natively, the cudnn engine needs >= 1);
//   steps t >= lengths[b] leave sequence b's state unchanged, write zero outputs and get no
//   gradient. The reverse direction of sequence b starts at t = lengths[b] - 1.
// h0, c0 [L*D, B, H] (index layer*D + direction; null: zeros; c only for lstm).
// y [T, B, D*H]; hn, cn [L*D, B, H] may be null (the state after each sequence's own last step).
// reserve: null for inference (no dropout); otherwise filled for rnn_backward (training:
//   config.dropout applies). Tensors of the right shapes already in it are reused, so a training
//   loop that passes the same reserve every step allocates nothing for it.
void rnn_forward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                 const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                 Tensor& y, Tensor* hn, Tensor* cn, RnnReserve* reserve,
                 const RnnDropout& dropout = {}, Engine engine = Engine::native);

// dy [T, B, D*H]; dhn, dcn may be null (zero). dx, dh0, dc0 may be null (not wanted).
// grads: same order and shapes as params; overwritten (not accumulated).
void rnn_backward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                  const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                  const Tensor& y, const Tensor& dy, const Tensor* dhn, const Tensor* dcn,
                  const RnnReserve& reserve, Tensor* dx, Tensor* dh0, Tensor* dc0,
                  const std::vector<Tensor*>& grads, const RnnDropout& dropout = {},
                  Engine engine = Engine::native);
}  // namespace ops
}  // namespace kiln
