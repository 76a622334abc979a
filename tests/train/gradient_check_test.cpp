// Finite-difference gradient checks of whole graphs on cpu: the loss gradient of
// every parameter from backward() against central differences of the loss (as in
// Caffe's GradientChecker). The graphs fan a value out to several layers so the
// summation of gradients is checked together with each layer's backward.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "kiln/graph/model_file.h"
#include "support/op_test.h"

namespace kiln {
namespace {

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

// Sets the batch and fills every input of a built graph.
using FillInputs = std::function<void(graph::Graph&)>;

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

void check_gradients(const char* model, const FillInputs& fill) {
  graph::GraphOptions options;
  options.seed = 4;
  graph::Graph g(Device::cpu(), options);
  graph::add_model_yaml(g, model);
  g.build();
  fill(g);
  const graph::RunContext ctx = g.context(true, 0);
  auto loss = [&] {
    g.forward(ctx);
    return static_cast<double>(g.value("loss").to_vector()[0]);
  };
  loss();
  g.backward(ctx);
  for (graph::Param* p : g.params()) {
    const std::vector<float> analytic = p->grad.to_vector();
    std::vector<float> values = p->value.to_vector();
    std::vector<double> numeric(values.size());
    const float h = 1e-3f;
    for (size_t i = 0; i < values.size(); ++i) {
      const float saved = values[i];
      values[i] = saved + h;
      p->value.copy_from(Tensor::from_vector(values, p->value.shape(), Device::cpu()));
      const double plus = loss();
      values[i] = saved - h;
      p->value.copy_from(Tensor::from_vector(values, p->value.shape(), Device::cpu()));
      const double minus = loss();
      values[i] = saved;
      numeric[i] = (plus - minus) / (2.0 * h);
    }
    p->value.copy_from(Tensor::from_vector(values, p->value.shape(), Device::cpu()));
    // The loss is a float32 mean of order 1: rounding ~1.3e-7 per evaluation,
    // divided by 2h = 2e-3, gives ~7e-5; the O(h^2) truncation of central
    // differences is ~1e-6 * |f'''|. 2e-3 covers both and still catches any wrong
    // term. Max pooling is piecewise linear: h is small enough (sigmoid outputs
    // move by at most ~2.5e-4) that no window of these fixed inputs changes its
    // winner; with h = 1e-2 ten elements of conv1.weight did, which shows up as a
    // reproducible failure at those elements, not as noise.
    EXPECT_TRUE(test::all_close(analytic, numeric, 2e-3, 2e-2)) << p->name;
  }
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
