// Finite-difference gradient checks of whole graphs on cpu (train/graph_gradient_check.h).
// The graphs fan a value out to several layers so the summation of gradients is
// checked together with each layer's backward.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/graph/model_file.h"
#include "train/graph_gradient_check.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using test::check_gradients;
using test::FillInputs;

// fc1 -> tanh feeds fc2 and fc3, which are summed into the logits.
const char* kDenseFanOut = R"(
layers:
  - {name: x, type: input, shape: [5]}
  - {name: y, type: input, shape: []}
  - {name: fc1, type: linear, input: x, out_features: 6, weight_init: xavier_normal,
     bias_init: {type: constant, value: 0.1}}
  - {name: act, type: tanh}
  - {name: fc2, type: linear, input: act, out_features: 4, weight_init: xavier_normal}
  - {name: fc3, type: linear, input: act, out_features: 4, bias: false, weight_init: he_uniform}
  - {name: logits, type: add, inputs: [fc2, fc3]}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, y]}
)";

// A small CNN: conv (padding, stride) -> relu -> max pool feeds both a conv with
// groups and the flatten; lrn and avg pool on one branch.
const char* kConvFanOut = R"(
layers:
  - {name: x, type: input, shape: [2, 7, 6]}
  - {name: y, type: input, shape: []}
  - {name: conv1, type: conv2d, input: x, out_channels: 4, kernel: 3, padding: [1, 1, 0, 1],
     weight_init: he_normal, bias_init: {type: constant, value: 0.05}}
  - {name: act1, type: sigmoid}
  - {name: pool1, type: max_pool2d, kernel: 2, stride: 1}
  - {name: conv2, type: conv2d, input: pool1, out_channels: 4, kernel: 3, padding: same,
     groups: 2, weight_init: xavier_uniform}
  - {name: norm, type: lrn, size: 3, alpha: 0.5, beta: 0.75, k: 2}
  - {name: pool2, type: avg_pool2d, kernel: 2, stride: 2}
  - {name: flat2, type: flatten}
  - {name: fc2, type: linear, out_features: 3}
  - {name: flat1, type: flatten, input: pool1}
  - {name: fc1, type: linear, out_features: 3}
  - {name: logits, type: add, inputs: [fc1, fc2]}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, y]}
)";

// Images [batch, sample...] in "x" and class ids in "y".
FillInputs dense_inputs(const Shape& sample, int classes) {
  return [sample, classes](graph::Graph& g) {
    const int64_t batch = 3;
    g.set_batch(batch);
    Shape shape{batch};
    shape.insert(shape.end(), sample.begin(), sample.end());
    g.input("x").copy_from(test::random_tensor(shape, Device::cpu(), 21));
    std::vector<float> labels(batch);
    for (int64_t i = 0; i < batch; ++i) labels[i] = static_cast<float>((i * 2 + 1) % classes);
    g.input("y").copy_from(Tensor::from_vector(labels, {batch}, Device::cpu()));
  };
}

TEST(GradientCheck, DenseGraphWithFanOut) { check_gradients(kDenseFanOut, dense_inputs({5}, 4)); }

TEST(GradientCheck, ConvGraphWithFanOut) {
  check_gradients(kConvFanOut, dense_inputs({2, 7, 6}, 3));
}

// Sequence features x [T, B, 4] of unequal lengths with per-step tags y [T, B]
// (-1 on padded steps) and per-sequence classes "c" [B].
constexpr int64_t kSteps = 4, kSequences = 3;
const std::vector<float> kLengths = {4, 1, 3};

void fill_sequences(graph::Graph& g) {
  g.set_batch(kSequences, kSteps);
  g.input("x").copy_from(test::random_tensor({kSteps, kSequences, 4}, Device::cpu(), 22));
  std::vector<float> tags(kSteps * kSequences);
  for (int64_t t = 0; t < kSteps; ++t) {
    for (int64_t b = 0; b < kSequences; ++b) {
      tags[t * kSequences + b] = t < kLengths[b] ? static_cast<float>((t + 2 * b) % 3) : -1.0f;
    }
  }
  g.input("y").copy_from(Tensor::from_vector(tags, {kSteps, kSequences}, Device::cpu()));
}

// A per-step tagger head: linear layers on [T, B, F], loss over unpadded steps.
const char* kPerStepTagger = R"(
layers:
  - {name: x, type: input, shape: [4], sequence: true}
  - {name: y, type: input, shape: [], sequence: true}
  - {name: fc1, type: linear, input: x, out_features: 5, per_step: true, weight_init: xavier_normal}
  - {name: act, type: tanh}
  - {name: logits, type: linear, out_features: 3, per_step: true, weight_init: xavier_normal}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, y], ignore_index: -1}
)";

TEST(GradientCheck, PerStepTaggerSkipsPadding) { check_gradients(kPerStepTagger, fill_sequences); }

// Many-to-one: per-step features pooled over the valid steps by two modes (fan-out).
const char* kPooledClassifier = R"(
layers:
  - {name: x, type: input, shape: [4], sequence: true}
  - {name: lengths, type: input, shape: []}
  - {name: c, type: input, shape: []}
  - {name: fc1, type: linear, input: x, out_features: 6, per_step: true, weight_init: xavier_normal}
  - {name: act, type: tanh}
  - {name: mean, type: sequence_pool, inputs: [act, lengths], mode: mean}
  - {name: last, type: sequence_pool, inputs: [act, lengths], mode: last_bidirectional}
  - {name: fc_mean, type: linear, input: mean, out_features: 3, weight_init: xavier_normal}
  - {name: fc_last, type: linear, input: last, out_features: 3, weight_init: xavier_normal}
  - {name: logits, type: add, inputs: [fc_mean, fc_last]}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, c]}
)";

TEST(GradientCheck, PooledSequenceClassifier) {
  check_gradients(kPooledClassifier, [](graph::Graph& g) {
    g.set_batch(kSequences, kSteps);
    g.input("x").copy_from(test::random_tensor({kSteps, kSequences, 4}, Device::cpu(), 23));
    g.input("lengths").copy_from(Tensor::from_vector(kLengths, {kSequences}, Device::cpu()));
    g.input("c").copy_from(Tensor::from_vector({2, 0, 1}, {kSequences}, Device::cpu()));
  });
}

}  // namespace
}  // namespace kiln
