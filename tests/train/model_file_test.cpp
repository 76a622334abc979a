// Model files a careless or hostile user writes: each mistake is an error naming
// the file, line or layer and the value, at load time (never at the first step);
// and the graph orders a very deep model in linear time.
#include <gtest/gtest.h>

#include <chrono>

#include "core/temp_dir.h"
#include "kiln/graph/graph.h"
#include "kiln/graph/layers.h"
#include "kiln/graph/model_file.h"

namespace kiln {
namespace {

using test::throws_error_with;

void load(const std::string& text) {
  graph::Graph g(Device::cpu());
  graph::add_model_yaml(g, text, "m.yaml");
  g.build();
}

const std::string kInputs = "layers:\n  - {name: x, type: input, shape: [1, 8, 8]}\n";

TEST(ModelFileInput, DuplicateKeysAreRefused) {
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: c, type: conv2d, out_channels: 2, kernel: 3, kernel: 5}\n"); },
      {"m.yaml:3", "key 'kernel' is given twice"}));
  EXPECT_TRUE(throws_error_with([] { load("name: a\nname: b\n" + kInputs); },
                                {"m.yaml:2", "key 'name' is given twice"}));
}

TEST(ModelFileInput, UnknownTopLevelKeysAreRefused) {
  EXPECT_TRUE(throws_error_with([] { load("nmae: typo\n" + kInputs); },
                                {"m.yaml:1", "unknown top-level key 'nmae'"}));
}

TEST(ModelFileInput, InputCountsAreChecked) {
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: r, type: relu, inputs: [x, x]}\n"); },
      {"layer 'r' (relu)", "takes 1 input(s), got 2"}));
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: s, type: add, inputs: [x]}\n"); },
                                {"layer 's' (add)", "two or more"}));
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: l, type: softmax_cross_entropy, inputs: [x]}\n"); },
      {"layer 'l'", "[logits, labels]"}));
}

TEST(ModelFileInput, LrnSettingsAreCheckedAtLoadWithTheLayerName) {
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: n, type: lrn, size: 4}\n"); },
                                {"layer 'n' (lrn)", "odd", "got 4"}));
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: n, type: lrn, k: 0}\n"); },
                                {"layer 'n' (lrn)", "k must be", "got 0"}));
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: n, type: lrn, beta: -1}\n"); },
                                {"layer 'n' (lrn)", "beta -1"}));
}

TEST(ModelFileInput, StridesPaddingsAndSizesOutOfRangeAreNamed) {
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: p, type: max_pool2d, kernel: 2, stride: [0, 2]}\n"); },
      {"layer 'p' (max_pool2d)", "'stride' is 0"}));
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: c, type: conv2d, out_channels: 2, kernel: 3, stride: 0}\n"); },
      {"layer 'c' (conv2d)", "'stride' is 0"}));
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: c, type: conv2d, out_channels: 2, kernel: 3, padding: 2000000000}\n"); },
      {"layer 'c' (conv2d)", "'padding' is 2000000000"}));
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: c, type: conv2d, out_channels: 64, kernel: 1, padding: 30000}\n"); },
      {"layer 'c' (conv2d)", "padding 30000 is not smaller than the kernel's extent 1"}));
  EXPECT_TRUE(throws_error_with(
      [] { load(kInputs + "  - {name: p, type: avg_pool2d, kernel: 2, padding: 2}\n"); },
      {"layer 'p' (avg_pool2d)", "padding 2"}));
  EXPECT_TRUE(throws_error_with(
      [] { load("layers:\n  - {name: x, type: input, shape: [1, 60000, 60000]}\n"); },
      {"layer 'x' (input)", "values per sample"}));
  EXPECT_TRUE(throws_error_with(
      [] { load("layers:\n  - {name: x, type: input, shape: [0, 28]}\n"); },
      {"layer 'x' (input)", "dimension 0"}));
}

TEST(ModelFileInput, LayerNamesMustBePrintableUtf8) {
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: r\xff, type: relu}\n"); },
                                {"not printable UTF-8", "72 ff"}));
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: \"a\\tb\", type: relu}\n"); },
                                {"not printable UTF-8"}));
  EXPECT_NO_THROW(load(kInputs + "  - {name: \"réseau_1\", type: relu}\n"));
}

TEST(ModelFileInput, NonScalarNamesAndValuesAreNamed) {
  EXPECT_TRUE(throws_error_with([] { load(kInputs + "  - {name: [a], type: relu}\n"); },
                                {"m.yaml:3", "name must be a name"}));
  EXPECT_TRUE(throws_error_with([] { load("name: {a: 1}\n" + kInputs); },
                                {"m.yaml:1", "the model's name"}));
}

TEST(ModelFileInput, DirectoriesAreNotModelFiles) {
  test::TempDir dir;
  EXPECT_TRUE(throws_error_with([&] { graph::load_model(dir.path(), Device::cpu(), {}); },
                                {dir.path(), "is a directory"}));
}

// 20,000 layers in a chain, listed last-to-first so the sort has to reorder all
// of them: the quadratic sort took ~21 s here, the heap-based one milliseconds.
TEST(GraphOrder, TwentyThousandLayersSortInLinearTime) {
  constexpr int kLayers = 20000;
  graph::Graph g(Device::cpu());
  for (int i = kLayers; i >= 1; --i) {
    g.add(graph::make_activation("a" + std::to_string(i), i == 1 ? "x" : "a" + std::to_string(i - 1),
                                 Activation::relu));
  }
  g.add(graph::make_input("x", {4}));
  const auto start = std::chrono::steady_clock::now();
  g.build();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(g.order().size(), static_cast<std::size_t>(kLayers + 1));
  EXPECT_EQ(g.order().front()->name(), "x");
  EXPECT_EQ(g.order().back()->name(), "a20000");
  // Generous for a loaded 2-core machine: a quadratic sort needs > 10 s.
  EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace kiln
