// Graph machinery with the layers whose ops exist on every device today
// (activations, add, flatten): topological order, shape inference, fan-out
// gradient summation, model-file parsing and its error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/error.h"
#include "kiln/graph/graph.h"
#include "kiln/graph/layers.h"
#include "kiln/graph/model_file.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using graph::Graph;
using graph::GraphOptions;

// The message of the kiln::Error that `fn` throws ("" if none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Graph from_yaml(const std::string& text, GraphOptions options = {}, Device d = Device::cpu()) {
  Graph g(d, options);
  graph::add_model_yaml(g, text);
  g.build();
  return g;
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(GraphOrder, LayersListedOutOfOrderRunTopologically) {
  Graph g = from_yaml(R"(
layers:
  - {name: c, type: relu, input: b}
  - {name: b, type: tanh, input: a}
  - {name: x, type: input, shape: [3]}
  - {name: a, type: sigmoid, input: x}
)");
  std::vector<std::string> names;
  for (const graph::Layer* l : g.order()) names.push_back(l->name());
  EXPECT_EQ(names, (std::vector<std::string>{"x", "a", "b", "c"}));
}

TEST(GraphOrder, CycleIsReportedWithItsLayers) {
  const std::string e = error_of([] {
    from_yaml("layers: [{name: x, type: input, shape: [2]}, {name: a, type: add, inputs: [x, b]},"
              " {name: b, type: relu, input: a}]");
  });
  EXPECT_HAS(e, "a, b form a cycle");
}

TEST(GraphShapes, InferredPerBatch) {
  Graph g = from_yaml(R"(
layers:
  - {name: x, type: input, shape: [2, 3, 5]}
  - {name: act, type: relu}
  - {name: flat, type: flatten}
)");
  EXPECT_EQ(g.shape("flat"), (Shape{1, 30}));
  g.set_batch(4);
  EXPECT_EQ(g.shape("flat"), (Shape{4, 30}));
  EXPECT_EQ(g.input("x").shape(), (Shape{4, 2, 3, 5}));
  EXPECT_EQ(g.value("act").shape(), (Shape{4, 2, 3, 5}));
}

TEST(ModelFile, DefaultInputIsTheLatestLayerElseTheFirstInput) {
  Graph g = from_yaml(R"(
layers:
  - {name: x, type: input, shape: [3]}
  - {name: y, type: input, shape: []}
  - {name: a, type: relu}
  - {name: b, type: tanh}
)");
  EXPECT_EQ(g.order()[2]->inputs(), (std::vector<std::string>{"x"}));
  EXPECT_EQ(g.order()[3]->inputs(), (std::vector<std::string>{"a"}));
}

TEST(GraphShapes, MismatchNamesTheLayerAndBothShapes) {
  const std::string e = error_of([] {
    from_yaml(R"(
layers:
  - {name: x, type: input, shape: [2, 3]}
  - {name: flat, type: flatten}
  - {name: sum, type: add, inputs: [x, flat]}
)");
  });
  EXPECT_HAS(e, "layer 'sum' (add)");
  EXPECT_HAS(e, "[1, 2, 3]");
  EXPECT_HAS(e, "[1, 6]");
}

TEST(ModelFile, UnknownTypeListsTheValidTypes) {
  const std::string e = error_of([] {
    from_yaml("layers: [{name: x, type: input, shape: [2]}, {name: c1, type: conv3d}]");
  });
  EXPECT_HAS(e, "layer 'c1' has unknown type 'conv3d'");
  EXPECT_HAS(e, "conv2d");
  EXPECT_HAS(e, "softmax_cross_entropy");
}

TEST(ModelFile, UnknownInputNamesTheLayerAndListsTheLayers) {
  const std::string e = error_of([] {
    from_yaml("layers: [{name: x, type: input, shape: [2]}, {name: r, type: relu, input: y}]");
  });
  EXPECT_HAS(e, "layer 'r' (relu): unknown input 'y'");
  EXPECT_HAS(e, "x, r");
}

TEST(ModelFile, MissingInputIsExplained) {
  const std::string e = error_of([] { from_yaml("layers: [{name: r, type: relu}]"); });
  EXPECT_HAS(e, "layer 'r' (relu)");
  EXPECT_HAS(e, "has no input");
  const std::string loss = error_of([] {
    from_yaml("layers: [{name: x, type: input, shape: [2]},"
              " {name: loss, type: softmax_cross_entropy}]");
  });
  EXPECT_HAS(loss, "inputs: [logits, labels]");
}

TEST(ModelFile, UnknownKeyListsValidKeys) {
  const std::string e = error_of([] {
    from_yaml("layers: [{name: x, type: input, shape: [2]},"
              " {name: c, type: conv2d, out_channels: 4, kernel: 3, strides: 2}]");
  });
  EXPECT_HAS(e, "unknown key 'strides'");
  EXPECT_HAS(e, "stride");
  EXPECT_HAS(e, "dilation");
}

TEST(ModelFile, BadSettingsAreReportedWithTheLayer) {
  EXPECT_HAS(error_of([] {
               from_yaml("layers: [{name: x, type: input, shape: [2]},"
                         " {name: fc, type: linear}]");
             }),
             "layer 'fc' (linear): needs out_features");
  EXPECT_HAS(error_of([] {
               from_yaml("layers: [{name: x, type: input, shape: [1, 4, 4]},"
                         " {name: c, type: conv2d, out_channels: 2, kernel: 3, padding: [1, 2, 3]}]");
             }),
             "[top, bottom, left, right]");
  EXPECT_HAS(error_of([] {
               from_yaml("layers: [{name: x, type: input, shape: [2]},"
                         " {name: fc, type: linear, out_features: 3, weight_init: lecun}]");
             }),
             "unknown initialiser 'lecun'");
  EXPECT_HAS(error_of([] { from_yaml("layers: [{name: x, type: input, shape: [2]}, {name: x, type: relu}]"); }),
             "two layers are named 'x'");
  EXPECT_HAS(error_of([] { from_yaml("layers: {a: 1}"); }), "list 'layers'");
}

// x -> a = tanh(x) feeds three consumers: b = sigmoid(a), c = relu(a) and the sum
// d = b + c + a, so d(sum)/da must add three gradients.
const char* kFanOut = R"(
layers:
  - {name: x, type: input, shape: [7]}
  - {name: a, type: tanh, input: x}
  - {name: b, type: sigmoid, input: a}
  - {name: c, type: relu, input: a}
  - {name: d, type: add, inputs: [b, c, a]}
)";

class FanOutTest : public testing::TestWithParam<Device> {};

TEST_P(FanOutTest, GradientsOfAFannedOutValueAreSummed) {
  const Device d = GetParam();
  GraphOptions options;
  options.input_gradients = true;
  Graph g = from_yaml(kFanOut, options, d);
  const int64_t batch = 3;
  g.set_batch(batch);
  const std::vector<float> x = test::random_vector(batch * 7, 5, -2.0f, 2.0f);
  const std::vector<float> upstream = test::random_vector(batch * 7, 6);
  g.input("x").copy_from(Tensor::from_vector(x, {batch, 7}, Device::cpu()));
  const graph::RunContext ctx = g.context(true, 0);
  g.forward(ctx);
  g.backward_from("d", Tensor::from_vector(upstream, {batch, 7}, d), ctx);
  // Run twice: the second backward must overwrite, not add to, the first one's gradients.
  g.backward_from("d", Tensor::from_vector(upstream, {batch, 7}, d), ctx);

  std::vector<double> expected(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = std::tanh(static_cast<double>(x[i]));
    const double s = 1.0 / (1.0 + std::exp(-t));
    expected[i] = upstream[i] * (1.0 - t * t) * (s * (1.0 - s) + (t > 0 ? 1.0 : 0.0) + 1.0);
  }
  // float forward/backward vs double: a few roundings of values of order 1.
  EXPECT_TRUE(test::all_close(g.gradient("x").to_vector(), expected, 1e-5, 1e-5));
}

TEST_P(FanOutTest, GradientMatchesCentralDifferences) {
  const Device d = GetParam();
  GraphOptions options;
  options.input_gradients = true;
  Graph g = from_yaml(kFanOut, options, d);
  g.set_batch(1);
  std::vector<float> x = test::random_vector(7, 8, -2.0f, 2.0f);
  for (float& v : x) v += std::abs(v) < 0.05f ? 0.1f : 0.0f;  // keep relu away from its kink
  const std::vector<float> upstream = test::random_vector(7, 9);
  const graph::RunContext ctx = g.context(true, 0);
  auto objective = [&](const std::vector<float>& at) {
    g.input("x").copy_from(Tensor::from_vector(at, {1, 7}, Device::cpu()));
    g.forward(ctx);
    const std::vector<float> out = g.value("d").to_vector();
    double total = 0;
    for (size_t i = 0; i < out.size(); ++i) total += static_cast<double>(upstream[i]) * out[i];
    return total;
  };
  objective(x);
  g.backward_from("d", Tensor::from_vector(upstream, {1, 7}, d), ctx);
  const std::vector<float> analytic = g.gradient("x").to_vector();
  std::vector<double> numeric(x.size());
  const float h = 1e-2f;
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<float> plus = x, minus = x;
    plus[i] += h;
    minus[i] -= h;
    numeric[i] = (objective(plus) - objective(minus)) / (2.0 * h);
  }
  // Central differences: O(h^2) truncation (~1e-4 here) plus float rounding of the
  // outputs (~1e-7) amplified by 1/(2h) = 50: 2e-3 bounds both.
  EXPECT_TRUE(test::all_close(analytic, numeric, 2e-3, 2e-3));
}

INSTANTIATE_TEST_SUITE_P(Devices, FanOutTest, testing::ValuesIn(test::test_devices()),
                         [](const auto& info) { return test::device_name(info.param); });

TEST(GraphApi, BuildsFromCppAndRejectsMisuse) {
  Graph g(Device::cpu());
  g.add(graph::make_input("x", {4}));
  g.add(graph::make_activation("y", "x", Activation::relu));
  EXPECT_HAS(error_of([&] { g.set_batch(2); }), "build()");
  g.build();
  EXPECT_HAS(error_of([&] { g.input("y"); }), "not an input");
  EXPECT_HAS(error_of([&] { g.loss_layer(); }), "no loss head");
  EXPECT_HAS(error_of([&] { g.value("z"); }), "no layer or value named 'z'");
  EXPECT_TRUE(g.params().empty());
}

TEST(Init, SeededPerNameAndWithTheRightSpread) {
  using graph::InitKind;
  const Shape shape{64, 32, 3, 3};  // fan_in 288, fan_out 576
  const auto a = graph::init_values({InitKind::he_normal}, shape, "conv.weight", 1);
  EXPECT_EQ(a, graph::init_values({InitKind::he_normal}, shape, "conv.weight", 1));
  EXPECT_NE(a, graph::init_values({InitKind::he_normal}, shape, "conv.weight", 2));
  EXPECT_NE(a, graph::init_values({InitKind::he_normal}, shape, "conv2.weight", 1));
  double sum = 0, squares = 0;
  for (float v : a) sum += v, squares += static_cast<double>(v) * v;
  const double n = static_cast<double>(a.size());
  // 18432 draws: the sample mean's standard error is std/136, the variance's ~1%.
  EXPECT_NEAR(sum / n, 0.0, 4 * std::sqrt(2.0 / 288) / 136);
  EXPECT_NEAR(squares / n, 2.0 / 288, 0.05 * 2.0 / 288);
  const double bound = std::sqrt(6.0 / (288 + 576));
  double max_abs = 0;
  for (float v : graph::init_values({InitKind::xavier_uniform}, shape, "w", 3)) {
    max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
  }
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.99 * bound);
  for (float v : graph::init_values(graph::Initializer::constant(0.25f), {5}, "b", 3)) {
    EXPECT_EQ(v, 0.25f);
  }
  EXPECT_THROW(graph::init_values({InitKind::he_uniform}, {5}, "b", 3), Error);
}

TEST(Init, ExplicitUniformAndNormalWorkOnAnyRank) {
  // Rank 1 is fine: the bound or spread is given, not derived from fans.
  double max_abs = 0;
  for (float v : graph::init_values(graph::Initializer::uniform(0.0625f), {4096}, "b_ih", 5)) {
    max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
  }
  EXPECT_LE(max_abs, 0.0625);
  EXPECT_GT(max_abs, 0.99 * 0.0625);
  const auto normal = graph::init_values(graph::Initializer::normal(2.0f), {100, 100}, "emb", 5);
  double squares = 0;
  for (float v : normal) squares += static_cast<double>(v) * v;
  // 10000 draws: the sample variance's standard error is ~1.4%.
  EXPECT_NEAR(squares / 10000, 4.0, 0.06 * 4.0);
}

TEST(Graph, SequenceInputsAreTimeMajorAndFollowSetBatch) {
  graph::Graph g(Device::cpu());
  graph::add_model_yaml(g, R"(
layers:
  - {name: x, type: input, shape: [3], sequence: true}
  - {name: lengths, type: input, shape: []}
  - {name: fc, type: linear, input: x, out_features: 2, per_step: true}
  - {name: pooled, type: sequence_pool, inputs: [fc, lengths], mode: last}
)");
  g.build();
  g.set_batch(4, 7);
  EXPECT_EQ(g.shape("x"), Shape({7, 4, 3}));
  EXPECT_EQ(g.shape("lengths"), Shape({4}));
  EXPECT_EQ(g.shape("fc"), Shape({7, 4, 2}));
  EXPECT_EQ(g.shape("pooled"), Shape({4, 2}));
  EXPECT_EQ(g.param("fc.weight").value.shape(), Shape({2, 3}));
  g.set_batch(4, 2);  // a shorter bucket
  EXPECT_EQ(g.value("fc").shape(), Shape({2, 4, 2}));
  EXPECT_HAS(error_of([&] { g.set_batch(4, 0); }), "time steps must be positive");
}

TEST(Graph, SequenceLayersRejectMismatchedShapes) {
  auto build = [](const std::string& yaml) {
    graph::Graph g(Device::cpu());
    graph::add_model_yaml(g, yaml);
    g.build();
  };
  EXPECT_HAS(error_of([&] {
               build(R"(
layers:
  - {name: x, type: input, shape: [3]}
  - {name: lengths, type: input, shape: []}
  - {name: pooled, type: sequence_pool, inputs: [x, lengths]}
)");
             }),
             "sequence batch [T, B, features]");
  EXPECT_HAS(error_of([&] {
               build(R"(
layers:
  - {name: x, type: input, shape: [4], sequence: true}
  - {name: y, type: input, shape: []}
  - {name: loss, type: softmax_cross_entropy, inputs: [x, y]}
)");
             }),
             "expects labels [1, 1]");
  EXPECT_HAS(error_of([&] {
               build(R"(
layers:
  - {name: x, type: input, shape: [4], sequence: true}
  - {name: pooled, type: sequence_pool, inputs: [x, x], mode: max}
)");
             }),
             "unknown sequence pooling 'max'");
}

}  // namespace
}  // namespace kiln
