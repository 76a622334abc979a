// The layer types and their settings: the C++ API for building a model (the YAML
// model file maps onto the same structs, see kiln/graph/model_file.h).
//   input                  a value fed by the caller; shape excludes the batch dimension
//                          (sequence inputs are time-major: [T, B, shape...])
//   conv2d                 ops::conv2d_*; weight [out, in/groups, kh, kw], bias [out]
//   max_pool2d, avg_pool2d ops::pool2d_*
//   linear                 ops::linear_*; flattens its input to [N, features], or with
//                          per_step maps the last dimension of [..., features]
//   relu, tanh, sigmoid    ops::activation_*
//   dropout                inverted dropout in training, identity in evaluation
//   lrn                    ops::lrn_* (across channels)
//   flatten                [N, ...] -> [N, prod(...)]
//   add                    sum of its inputs (residual joins)
//   embedding              ops::embedding_*; ids [T, B] (floats) -> [T, B, E]; weight [V, E]
//   lstm, gru, rnn         ops::rnn_*; inputs [x [T, B, F]] or [x, lengths [B]] ->
//                          [T, B, directions * hidden]; PyTorch's parameter names
//   sequence_pool          inputs [x [T, B, F], lengths [B]] -> [B, F]: ops::sequence_pool_*
//   softmax_cross_entropy  loss head: inputs [logits [..., C], labels [...]], output the
//                          mean loss [1] over labels that are not ignore_index
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/graph/init.h"
#include "kiln/graph/layer.h"
#include "kiln/ops/activation.h"
#include "kiln/ops/conv2d.h"
#include "kiln/ops/lrn.h"
#include "kiln/ops/pool2d.h"
#include "kiln/ops/rnn.h"
#include "kiln/ops/sequence_pool.h"
#include "kiln/ops/softmax_cross_entropy.h"

namespace kiln::graph {

struct Conv2dConfig {
  int out_channels = 0;
  int kernel_h = 3, kernel_w = 3;
  Conv2dParams params;
  bool same_padding = false;  // resolved from the kernel (and dilation) at build time
  bool bias = true;
  Initializer weight_init{InitKind::he_normal};
  Initializer bias_init = Initializer::constant(0.0f);
};

struct LinearConfig {
  int out_features = 0;
  bool bias = true;
  // false: [N, ...] is flattened to [N, features]; true: the layer maps the last
  // dimension of [..., features] and keeps the others (a per-step layer on [T, B, F]).
  bool per_step = false;
  Initializer weight_init{InitKind::he_normal};
  Initializer bias_init = Initializer::constant(0.0f);
};

struct EmbeddingConfig {
  int num_embeddings = 0;  // vocabulary size V
  int embedding_dim = 0;   // E
  int padding_idx = -1;    // an id whose row starts at zero and gets no gradient; -1: none
  Initializer weight_init = Initializer::normal(1.0f);  // as PyTorch's nn.Embedding
};

struct RnnLayerConfig {
  RnnConfig rnn;  // input_size is inferred from the input
  // lstm: the forget gate's initial total bias (1.0 is common); unset: drawn like the rest.
  std::optional<float> forget_bias;
  // Every parameter's initialiser; unset: PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
  std::optional<Initializer> weight_init;
};

using LayerPtr = std::unique_ptr<Layer>;

// `feature`: for token-id inputs, the token feature the data fills it with (text.h:
// token_feature; "" for the words themselves).
LayerPtr make_input(const std::string& name, Shape sample_shape, bool sequence = false,
                    const std::string& feature = "");
LayerPtr make_conv2d(const std::string& name, const std::string& input, const Conv2dConfig& c);
LayerPtr make_pool2d(const std::string& name, const std::string& input, PoolMode mode,
                     const Pool2dParams& p);
LayerPtr make_linear(const std::string& name, const std::string& input, const LinearConfig& c);
LayerPtr make_activation(const std::string& name, const std::string& input, Activation kind);
LayerPtr make_dropout(const std::string& name, const std::string& input, float p);
LayerPtr make_lrn(const std::string& name, const std::string& input, const LrnParams& p);
LayerPtr make_flatten(const std::string& name, const std::string& input);
LayerPtr make_add(const std::string& name, std::vector<std::string> inputs);
LayerPtr make_embedding(const std::string& name, const std::string& input,
                        const EmbeddingConfig& c);
// inputs: [x] or [x, lengths]; the type (lstm, gru, rnn) follows c.rnn.mode.
LayerPtr make_rnn(const std::string& name, std::vector<std::string> inputs,
                  const RnnLayerConfig& c);
LayerPtr make_sequence_pool(const std::string& name, const std::string& x,
                            const std::string& lengths, SequencePool mode);
LayerPtr make_softmax_cross_entropy(const std::string& name, const std::string& logits,
                                    const std::string& labels,
                                    int ignore_index = ops::kNoIgnoreIndex);
// The label value a loss head skips (ops::kNoIgnoreIndex when none).
int loss_ignore_index(const Layer& loss);

// True for the loss head type (the graph starts backward there).
bool is_loss_layer(const Layer& layer);
// True for an input layer; its sample shape.
bool is_input_layer(const Layer& layer);
const Shape& input_sample_shape(const Layer& layer);
// True for an input layer fed time-major sequences [T, B, shape...].
bool is_sequence_input(const Layer& layer);
// An input layer's token feature ("" for none or for other layers).
std::string input_feature(const Layer& layer);

}  // namespace kiln::graph
