// Sequence models as graphs: embedding -> recurrent layer -> per-step or pooled head.
// Finite differences of the whole graph on cpu, cpu/simt parity over SGD steps, the
// carried state of truncated BPTT, and device-side id errors surfacing from the graph.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kiln/error.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/optimizer.h"
#include "support/op_test.h"
#include "train/graph_gradient_check.h"

namespace kiln {
namespace {

constexpr int64_t kSteps = 5, kBatch = 3, kVocab = 7;
const std::vector<float> kLengths = {5, 2, 4};

// Word ids (0 = padding on padded steps), lengths and per-step tags (-1 on padding).
void fill_tagging_batch(graph::Graph& g, const Device& device) {
  g.set_batch(kBatch, kSteps);
  std::vector<float> words(kSteps * kBatch), tags(kSteps * kBatch);
  for (int64_t t = 0; t < kSteps; ++t) {
    for (int64_t b = 0; b < kBatch; ++b) {
      const bool valid = t < kLengths[b];
      words[t * kBatch + b] = valid ? static_cast<float>(1 + (3 * t + 2 * b) % (kVocab - 1)) : 0;
      tags[t * kBatch + b] = valid ? static_cast<float>((t + b) % 3) : -1.0f;
    }
  }
  g.input("words").copy_from(Tensor::from_vector(words, {kSteps, kBatch}, device));
  g.input("lengths").copy_from(Tensor::from_vector(kLengths, {kBatch}, device));
  g.input("tags").copy_from(Tensor::from_vector(tags, {kSteps, kBatch}, device));
}

std::string tagger(const std::string& recurrent) {
  return R"(
layers:
  - {name: words, type: input, shape: [], sequence: true}
  - {name: lengths, type: input, shape: []}
  - {name: tags, type: input, shape: [], sequence: true}
  - {name: emb, type: embedding, input: words, num_embeddings: 7, embedding_dim: 3, padding_idx: 0}
  - )" + recurrent + R"(
  - {name: logits, type: linear, out_features: 3, per_step: true, weight_init: xavier_normal}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, tags], ignore_index: -1}
)";
}

const std::string kBiLstm =
    "{name: rnn, type: lstm, inputs: [emb, lengths], hidden_size: 4, bidirectional: true, "
    "forget_bias: 1.0}";
const std::string kStackedGru =
    "{name: rnn, type: gru, inputs: [emb, lengths], hidden_size: 3, num_layers: 2}";
const std::string kPeepholeLstm =
    "{name: rnn, type: lstm, inputs: [emb, lengths], hidden_size: 3, peepholes: true}";
const std::string kReluRnn =
    "{name: rnn, type: rnn, inputs: [emb, lengths], hidden_size: 4, nonlinearity: relu, "
    "bidirectional: true}";

graph::Graph build(const std::string& yaml, const Device& device, uint64_t seed = 4) {
  graph::GraphOptions options;
  options.seed = seed;
  graph::Graph g(device, options);
  graph::add_model_yaml(g, yaml);
  g.build();
  return g;
}

double loss_of(graph::Graph& g, const graph::RunContext& ctx) {
  g.forward(ctx);
  return g.value("loss").to_vector()[0];
}

void check_graph_gradients(const std::string& recurrent) {
  test::check_gradients(tagger(recurrent),
                        [](graph::Graph& g) { fill_tagging_batch(g, Device::cpu()); });
}

TEST(SequenceModelGradients, BidirectionalLstmTagger) { check_graph_gradients(kBiLstm); }
TEST(SequenceModelGradients, StackedGruTagger) { check_graph_gradients(kStackedGru); }
TEST(SequenceModelGradients, PeepholeLstmTagger) { check_graph_gradients(kPeepholeLstm); }
TEST(SequenceModelGradients, BidirectionalReluRnnTagger) { check_graph_gradients(kReluRnn); }

TEST(SequenceModel, EmbeddingPaddingRowGetsNoGradient) {
  graph::Graph g = build(tagger(kBiLstm), Device::cpu());
  fill_tagging_batch(g, Device::cpu());
  const graph::RunContext ctx = g.context(true, 0);
  g.forward(ctx);
  g.backward(ctx);
  const std::vector<float> table_grad = g.param("emb.weight").grad.to_vector();
  for (int e = 0; e < 3; ++e) EXPECT_EQ(table_grad[e], 0.0f);
  // The other rows do get one (the comparison is not of an all-zero gradient).
  EXPECT_NE(std::vector<float>(table_grad.begin() + 3, table_grad.end()),
            std::vector<float>(table_grad.size() - 3, 0.0f));
}

TEST(SequenceModel, ParametersCarryPyTorchNames) {
  graph::Graph g = build(tagger(kBiLstm), Device::cpu());
  EXPECT_EQ(g.param("rnn.weight_ih_l0").value.shape(), Shape({16, 3}));
  EXPECT_EQ(g.param("rnn.weight_hh_l0_reverse").value.shape(), Shape({16, 4}));
  EXPECT_EQ(g.param("emb.weight").value.shape(), Shape({7, 3}));
  // forget_bias 1.0: the f block of bias_ih is 1 and that of bias_hh 0.
  const std::vector<float> b_ih = g.param("rnn.bias_ih_l0").value.to_vector();
  const std::vector<float> b_hh = g.param("rnn.bias_hh_l0").value.to_vector();
  for (int j = 4; j < 8; ++j) EXPECT_EQ(b_ih[j] + b_hh[j], 1.0f);
  EXPECT_NE(b_ih[0], 0.0f);
  // The padding row starts at zero.
  for (int e = 0; e < 3; ++e) EXPECT_EQ(g.param("emb.weight").value.to_vector()[e], 0.0f);
}

struct Trace {
  std::vector<float> losses;
  std::vector<std::vector<float>> final;
};

Trace train_tagger(const Device& device, int steps) {
  graph::Graph g = build(tagger(kBiLstm), device);
  train::OptimizerConfig config;  // sgd, momentum 0.9
  train::Optimizer opt(config, g.params(), device);
  fill_tagging_batch(g, device);
  Trace t;
  for (int step = 0; step < steps; ++step) {
    const graph::RunContext ctx = g.context(true, step);
    t.losses.push_back(static_cast<float>(loss_of(g, ctx)));
    g.backward(ctx);
    opt.step(0.5f);
  }
  for (graph::Param* p : g.params()) t.final.push_back(p->value.to_vector());
  return t;
}

TEST(SequenceModelParity, SimtMatchesCpuOverSgdSteps) {
  const Trace cpu = train_tagger(Device::cpu(), 3);
  const Trace simt = train_tagger(Device::simt(), 3);
  // Float32 on both, summation orders differ (OpenBLAS vs the GEMM wrapper's
  // OpenBLAS calls on simt are the same; the cells and reductions differ by a few
  // roundings): sums have at most ~16 terms here, relative differences ~1e-6.
  // lr 0.5 times gradients of order 0.1 over 3 steps keeps that below 1e-5, while a
  // wrong gradient term would move weights by ~1e-2.
  EXPECT_TRUE(test::all_close(simt.losses, cpu.losses, 1e-6, 1e-5));
  for (size_t i = 0; i < cpu.final.size(); ++i) {
    EXPECT_TRUE(test::all_close(simt.final[i], cpu.final[i], 1e-5, 1e-4)) << "parameter " << i;
  }
  EXPECT_LT(cpu.losses.back(), cpu.losses.front());  // it learns
}

// Truncated BPTT: a stream run as two chunks with carry_state gives the same outputs
// as one run over the whole stream.
TEST(SequenceModel, CarriedStateContinuesTheStream) {
  const std::string lm = R"(
layers:
  - {name: words, type: input, shape: [], sequence: true}
  - {name: emb, type: embedding, input: words, num_embeddings: 7, embedding_dim: 3}
  - {name: rnn, type: lstm, hidden_size: 4, num_layers: 2}
)";
  graph::Graph g = build(lm, Device::cpu());
  const std::vector<float> stream = {1, 4, 2, 6, 3, 5, 2, 1, 4, 3, 6, 2};  // [6, 2]
  auto run = [&](int64_t first, int64_t steps, bool carry) {
    g.set_batch(2, steps);
    g.input("words").copy_from(Tensor::from_vector(
        std::vector<float>(stream.begin() + first * 2, stream.begin() + (first + steps) * 2),
        {steps, 2}, Device::cpu()));
    graph::RunContext ctx = g.context(false, 0);
    ctx.carry_state = carry;
    g.forward(ctx);
    return g.value("rnn").to_vector();
  };
  const std::vector<float> whole = run(0, 6, false);
  run(0, 3, false);
  const std::vector<float> second = run(3, 3, true);
  const std::vector<float> expected(whole.begin() + 3 * 2 * 4, whole.end());
  // The same float operations in the same order: bit-identical.
  EXPECT_EQ(second, expected);
  // Without carrying, the second chunk starts from zeros and differs.
  EXPECT_NE(run(3, 3, false), expected);
}

TEST(SequenceModel, BadIdOnTheSimtDeviceSurfacesFromTheGraph) {
  graph::Graph g = build(tagger(kBiLstm), Device::simt());
  fill_tagging_batch(g, Device::simt());
  std::vector<float> words = g.input("words").to_vector();
  words[4] = 9;  // vocabulary of 7
  g.input("words").copy_from(Tensor::from_vector(words, {kSteps, kBatch}, Device::simt()));
  g.forward(g.context(false, 0));
  try {
    g.check_device_status();
    FAIL() << "no error for id 9";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("emb"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
