// Model files (YAML). A model is a name and a list of layers:
//
//   name: lenet5
//   layers:
//     - {name: data, type: input, shape: [1, 28, 28]}
//     - {name: label, type: input, shape: []}
//     - {name: words, type: input, shape: [], sequence: true}   # [T, B], time-major
//     - {name: suffix, type: input, shape: [], sequence: true, feature: suffix3}
//                              # ids of a token feature (data/text.h: lower, suffix2,
//                              # suffix3, shape) instead of the words
//     - name: conv1
//       type: conv2d
//       input: data            # default: the latest non-input layer listed before
//                              # it, else the first input layer
//       out_channels: 6
//       kernel: 5              # or [kh, kw]
//       stride: 1              # or [sh, sw]
//       padding: 2             # or [ph, pw], [top, bottom, left, right], same, valid
//       dilation: 1            # or [dh, dw]
//       groups: 1
//       bias: true
//       weight_init: he_normal # or {type: constant, value: 0.1}
//       bias_init: {type: constant, value: 0}
//     - {name: pool1, type: max_pool2d, kernel: 2, stride: 2, padding: 0}
//     - {name: fc1, type: linear, out_features: 120}
//     - {name: tags, type: linear, out_features: 45, per_step: true}  # [T, B, F] -> [T, B, 45]
//     - {name: emb, type: embedding, input: words, num_embeddings: 10000, embedding_dim: 128,
//        padding_idx: 0}                     # weight_init default {type: normal, value: 1}
//     - name: bilstm
//       type: lstm                          # or gru, or rnn (nonlinearity: tanh | relu)
//       inputs: [emb, lengths]              # lengths [B] optional: padded steps are skipped
//       hidden_size: 256
//       num_layers: 1
//       bidirectional: true                 # output [T, B, 2 * hidden_size]
//       dropout: 0.0                        # between stacked layers, training only
//       peepholes: false                    # lstm only (Graves 2013)
//       forget_bias: 1.0                    # lstm only; default: drawn like the other biases
//       weight_init: {type: uniform, value: 0.0625}  # default U(+-1/sqrt(hidden_size))
//     - {name: pooled, type: sequence_pool, inputs: [bilstm, lengths], mode: mean}
//                                           # or last, last_bidirectional: [T, B, F] -> [B, F]
//     - {name: relu1, type: relu}
//     - {name: drop1, type: dropout, p: 0.5}
//     - {name: norm1, type: lrn, size: 5, alpha: 1.0e-4, beta: 0.75, k: 2}
//     - {name: flat, type: flatten}
//     - {name: sum, type: add, inputs: [a, b]}
//     - {name: loss, type: softmax_cross_entropy, inputs: [fc3, label]}
//       (logits [..., C] with labels [...]; ignore_index: -1 skips padded positions)
//
// Sizes that depend on the data are written `$name` (num_embeddings: $words,
// out_features: $tags); kiln train, eval, predict and generate set them from the text
// data set's vocabularies ($words, $tags, $labels).
//
// An optional `train:` map is the model's recipe: the kiln train flags it was
// measured with, by name without the dashes (train: {epochs: 10, batch_size: 32,
// optimizer: adam, lr: 0.001}); flags given on the command line override it.
//
// Unknown layer types, unknown keys and unknown inputs are errors that name the
// layer and list what is valid.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/graph/graph.h"

namespace kiln::graph {

// One setting of the `train:` section, as written (kiln train parses it as the flag
// of the same name, '_' read as '-').
struct RecipeEntry {
  std::string key, value;
  int line = 0;
};

struct ModelSpec {
  std::string name;
  std::string source;  // file path or "<string>", for messages
  std::vector<RecipeEntry> recipe;
};

// Sizes a model file may leave to the data (`num_embeddings: $words`): name -> value.
using DataSizes = std::map<std::string, int64_t>;

// Adds the layers of the YAML text to `graph` (not yet built) and returns the model's
// name and recipe.
ModelSpec add_model_yaml(Graph& graph, const std::string& yaml_text,
                         const std::string& source = "<string>", const DataSizes& sizes = {});
// The name and recipe of a model file, without building its layers.
ModelSpec read_model_spec(const std::string& path);
// Reads a model file, builds the graph on `device` and returns it.
Graph load_model(const std::string& path, Device device, const GraphOptions& options,
                 ModelSpec* spec = nullptr, const DataSizes& sizes = {});

}  // namespace kiln::graph
