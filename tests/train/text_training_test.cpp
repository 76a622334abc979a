// Sequence training (kiln/train/text_task.h, sequence_sources.h): the shipped text models
// build with sizes from the data, recipes parse, the batch sources count what the loss
// averages over, a small tagger and a small language model learn, a stopped tagger run
// resumes to the uninterrupted run bit for bit on cpu, and vocabularies round-trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/temp_dir.h"
#include "kiln/data/safetensors.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/run_dir.h"
#include "kiln/train/text_task.h"
#include "kiln/train/trainer.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using test::throws_error_with;

std::string model_path(const std::string& name) {
  const std::string here = __FILE__;  // tests/train/text_training_test.cpp
  return here.substr(0, here.rfind("/tests/")) + "/models/" + name;
}

// A toy tagging language: determiners, nouns, verbs in a few fixed patterns.
void write_tagging_data(const test::TempDir& dir) {
  const char* patterns[] = {"the/D dog/N runs/V", "a/D cat/N sleeps/V", "the/D cat/N runs/V ./P",
                            "dogs/N bark/V", "a/D bird/N sings/V loudly/R", "the/D dog/N sleeps/V ./P"};
  for (const char* split : {"train", "test"}) {
    std::ofstream out(dir.file(std::string(split) + ".tsv"));
    const int copies = split[1] == 'r' ? 5 : 1;
    for (int c = 0; c < copies; ++c) {
      for (const char* pattern : patterns) {
        std::string text = pattern;
        for (std::size_t start = 0; start < text.size();) {
          std::size_t end = text.find(' ', start);
          if (end == std::string::npos) end = text.size();
          const std::string item = text.substr(start, end - start);
          const std::size_t slash = item.rfind('/');
          out << item.substr(0, slash) << '\t' << item.substr(slash + 1) << '\n';
          start = end + 1;
        }
        out << '\n';
      }
    }
  }
}

const char* kTinyTagger = R"(
name: tiny_tagger
train: {optimizer: adam, lr: 0.05, batch_size: 4}
layers:
  - {name: words, type: input, shape: [], sequence: true}
  - {name: lengths, type: input, shape: []}
  - {name: tags, type: input, shape: [], sequence: true}
  - {name: embed, type: embedding, input: words, num_embeddings: $words, embedding_dim: 8, padding_idx: 0}
  - {name: rnn, type: lstm, inputs: [embed, lengths], hidden_size: 8, bidirectional: true}
  - {name: drop, type: dropout, p: 0.1}
  - {name: logits, type: linear, out_features: $tags, per_step: true, weight_init: xavier_uniform}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, tags], ignore_index: -1}
)";

graph::Graph tiny_graph(const char* yaml, const graph::DataSizes& sizes, uint64_t seed = 3) {
  graph::GraphOptions options;
  options.seed = seed;
  graph::Graph g(Device::cpu(), options);
  graph::add_model_yaml(g, yaml, "<tiny>", sizes);
  g.build();
  return g;
}

train::TrainConfig tiny_config(const std::string& run_dir, int epochs, int64_t batch_size) {
  train::TrainConfig c;
  c.epochs = epochs;
  c.batch_size = batch_size;
  c.seed = 3;
  c.log_every = 2;
  c.optimizer.kind = train::OptimizerKind::adam;
  c.schedule.base_lr = 0.05f;
  c.run_dir = run_dir;
  c.progress = false;
  return c;
}

int64_t parameter_count(graph::Graph& g) {
  int64_t n = 0;
  for (graph::Param* p : g.params()) n += p->value.numel();
  return n;
}

TEST(TextModels, ShippedModelsBuildWithSizesFromTheData) {
  const graph::DataSizes sizes{{"words", 1000}, {"tags", 45},   {"labels", 2},  {"lower", 900},
                               {"suffix2", 300}, {"suffix3", 600}, {"shape", 50}};
  graph::Graph tagger = graph::load_model(model_path("bilstm_tagger.yaml"), Device::cpu(), {}, nullptr, sizes);
  EXPECT_EQ(tagger.param("embed_word.weight").value.shape(), (Shape{1000, 128}));
  EXPECT_EQ(tagger.param("embed_suffix3.weight").value.shape(), (Shape{600, 128}));
  EXPECT_EQ(tagger.param("bilstm.weight_hh_l0").value.shape(), (Shape{1024, 256}));
  EXPECT_EQ(tagger.param("logits.weight").value.shape(), (Shape{45, 512}));
  graph::Graph tagger2 =
      graph::load_model(model_path("bilstm2_tagger.yaml"), Device::cpu(), {}, nullptr, sizes);
  EXPECT_EQ(tagger2.param("bilstm.weight_ih_l1").value.shape(), (Shape{1024, 512}));
  EXPECT_EQ(parameter_count(tagger2), 2367488 + 128 * (1000 + 900 + 300 + 600 + 50) + 513 * 45);
  graph::Graph gru = graph::load_model(model_path("gru_tagger.yaml"), Device::cpu(), {}, nullptr, sizes);
  EXPECT_EQ(gru.param("bigru.weight_ih_l0").value.shape(), (Shape{768, 128}));
  graph::Graph lm = graph::load_model(model_path("lstm_lm.yaml"), Device::cpu(), {}, nullptr, sizes);
  EXPECT_EQ(lm.param("logits.weight").value.shape(), (Shape{1000, 256}));
  graph::Graph lm_dropout =
      graph::load_model(model_path("lstm_lm_dropout.yaml"), Device::cpu(), {}, nullptr, sizes);
  EXPECT_EQ(lm_dropout.param("embed.weight").value.shape(), (Shape{1000, 256}));
  EXPECT_EQ(lm_dropout.param("lstm.weight_ih_l0").value.shape(), (Shape{1024, 256}));
  graph::Graph spam = graph::load_model(model_path("lstm_spam.yaml"), Device::cpu(), {}, nullptr, sizes);
  EXPECT_EQ(spam.param("logits.weight").value.shape(), (Shape{2, 128}));
  EXPECT_TRUE(train::text_model_traits(model_path("bilstm_tagger.yaml")).sequence_labels);
  EXPECT_EQ(train::text_model_traits(model_path("bilstm_tagger.yaml")).features,
            (std::vector<std::string>{"lower", "shape", "suffix2", "suffix3"}));
  EXPECT_TRUE(train::text_model_traits(model_path("lstm_lm.yaml")).sequence_labels);
  EXPECT_FALSE(train::text_model_traits(model_path("lstm_spam.yaml")).sequence_labels);
  // The counts docs/TRAINING.md gives (V = 1000 words, T = 45 tags, L = 2 labels).
  EXPECT_EQ(parameter_count(tagger), 790528 + 128 * (1000 + 900 + 300 + 600 + 50) + 513 * 45);
  EXPECT_EQ(parameter_count(gru), 592896 + 128 * 1000 + 513 * 45);
  EXPECT_EQ(parameter_count(lm), 395264 + 385 * 1000);
  EXPECT_EQ(parameter_count(spam), 99328 + 64 * 1000 + 129 * 2);
}

TEST(TextModels, EveryShippedModelCarriesARecipe) {
  int models = 0;
  for (const auto& entry : std::filesystem::directory_iterator(model_path(""))) {
    if (entry.path().extension() != ".yaml") continue;
    ++models;
    EXPECT_FALSE(graph::read_model_spec(entry.path().string()).recipe.empty()) << entry.path();
  }
  EXPECT_GE(models, 8);
  const graph::ModelSpec tagger = graph::read_model_spec(model_path("bilstm_tagger.yaml"));
  ASSERT_GE(tagger.recipe.size(), 2u);
  EXPECT_EQ(tagger.recipe[0].key, "optimizer");
  EXPECT_EQ(tagger.recipe[0].value, "adam");
  EXPECT_GT(tagger.recipe[0].line, 1);
}

TEST(TextModels, SizesTheDataDoesNotGiveAndBadRecipesAreNamed) {
  graph::Graph g(Device::cpu());
  EXPECT_TRUE(throws_error_with([&] { graph::add_model_yaml(g, kTinyTagger, "<tiny>", {{"words", 5}}); },
                                {"layer 'logits'", "$tags", "known: $words"}));
  graph::Graph h(Device::cpu());
  EXPECT_TRUE(throws_error_with(
      [&] { graph::add_model_yaml(h, "train: [1, 2]\nlayers: []\n", "<bad>"); }, {"'train' must be a map"}));
  graph::Graph i(Device::cpu());
  EXPECT_TRUE(throws_error_with(
      [&] { graph::add_model_yaml(i, "train: {lr: {a: 1}}\nlayers: []\n", "<bad>"); },
      {"'lr' must be a single value"}));
}

TEST(TextTraining, SequenceSourceCountsTokensWithoutPadding) {
  test::TempDir data;
  write_tagging_data(data);
  const train::TextVocabs vocabs = train::build_vocabs(train::TextTask::tagging, data.path(), 1);
  train::TextSplit split(train::TextTask::tagging, data.path(), "train", vocabs, Device::cpu(), 4, 35);
  EXPECT_EQ(split.sequences(), 30);
  EXPECT_EQ(split.tokens(), 5 * (3 + 3 + 4 + 2 + 4 + 4));
  graph::Graph g = tiny_graph(kTinyTagger, train::data_sizes(vocabs, train::TextTask::tagging));
  train::BatchSource& source = split.source();
  for (int epoch : {train::BatchSource::kNaturalOrder, 0, 1}) {
    source.plan(3, epoch, 4);
    int64_t items = 0, sequences = 0;
    for (int64_t k = 0; k < source.batches(); ++k) {
      items += source.load(k, g);
      const std::vector<float> tags = g.input("tags").to_vector();
      const std::vector<float> lengths = g.input("lengths").to_vector();
      int64_t valid = 0, batch_tokens = 0;
      for (float t : tags) valid += t != -1.0f;
      for (float l : lengths) batch_tokens += static_cast<int64_t>(l);
      EXPECT_EQ(valid, batch_tokens);
      sequences += g.batch();
    }
    EXPECT_EQ(items, split.tokens());
    EXPECT_EQ(source.items(), split.tokens());
    EXPECT_EQ(sequences, 30);
  }
}

struct RunResult {
  std::vector<std::vector<float>> weights;
  std::vector<nlohmann::json> metrics;
  bool interrupted = false;
};

// Trains a tiny model for `task` in `dir` (resuming when it holds a checkpoint),
// stopping at the `stop_at`-th stop request (0: never); batches of 4, bptt 5.
RunResult train_tiny(train::TextTask task, const char* yaml, const test::TempDir& data,
                     const std::string& dir, int epochs, int stop_at = 0) {
  const train::TextVocabs vocabs = train::build_vocabs(task, data.path(), 1);
  graph::Graph g = tiny_graph(yaml, train::data_sizes(vocabs, task));
  train::TextSplit train_split(task, data.path(), "train", vocabs, Device::cpu(), 4, 5);
  train::TextSplit test_split(task, data.path(), "test", vocabs, Device::cpu(), 4, 5);
  train::Trainer trainer(g, tiny_config(dir, epochs, 4));
  if (std::filesystem::exists(dir + "/checkpoint.json")) trainer.resume(dir);
  int asked = 0;
  trainer.stop_requested = [&] { return stop_at > 0 && ++asked >= stop_at; };
  trainer.fit(train_split.source(), &test_split.source());
  RunResult r;
  r.interrupted = trainer.interrupted();
  for (graph::Param* p : g.params()) r.weights.push_back(p->value.to_vector());
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("seconds");
    j.erase("tokens_per_second");
    r.metrics.push_back(j);
  }
  return r;
}

TEST(TextTraining, ATaggerLearnsAndAStoppedRunResumesExactly) {
  test::TempDir data, whole, stopped;
  write_tagging_data(data);
  auto train_tagger = [&](const std::string& dir, int stop_at) {
    return train_tiny(train::TextTask::tagging, kTinyTagger, data, dir, 6, stop_at);
  };
  const RunResult reference = train_tagger(whole.path(), 0);
  ASSERT_EQ(reference.metrics.size(), 6u);
  EXPECT_LT(reference.metrics.back()["train_loss"].get<double>(),
            reference.metrics.front()["train_loss"].get<double>());
  EXPECT_GE(reference.metrics.back()["test_accuracy"].get<double>(), 0.9);
  // 8 batches an epoch: stops inside epochs 1, 3 and 4.
  for (int stop_at : {5, 12, 7}) EXPECT_TRUE(train_tagger(stopped.path(), stop_at).interrupted);
  EXPECT_GT(train::read_run_state(stopped.path()).batch_in_epoch, 0);
  const RunResult resumed = train_tagger(stopped.path(), 0);
  EXPECT_FALSE(resumed.interrupted);
  EXPECT_EQ(resumed.weights, reference.weights);
  EXPECT_EQ(resumed.metrics, reference.metrics);
}

const char* kTinyLm = R"(
layers:
  - {name: words, type: input, shape: [], sequence: true}
  - {name: next, type: input, shape: [], sequence: true}
  - {name: embed, type: embedding, input: words, num_embeddings: $words, embedding_dim: 8}
  - {name: rnn, type: lstm, hidden_size: 16}
  - {name: logits, type: linear, out_features: $words, per_step: true}
  - {name: loss, type: softmax_cross_entropy, inputs: [logits, next]}
)";

void write_lm_data(const test::TempDir& data) {
  for (const char* split : {"train", "test"}) {
    std::ofstream out(data.file(std::string(split) + ".txt"));
    for (int i = 0; i < (split[1] == 'r' ? 60 : 12); ++i) out << "one two three four five six\n";
  }
}

TEST(TextTraining, ALanguageModelStoppedMidEpochResumesWithItsCarriedState) {
  test::TempDir data, whole, stopped;
  write_lm_data(data);
  auto train_lm = [&](const std::string& dir, int stop_at) {
    return train_tiny(train::TextTask::language_model, kTinyLm, data, dir, 3, stop_at);
  };
  const RunResult reference = train_lm(whole.path(), 0);
  ASSERT_EQ(reference.metrics.size(), 3u);
  // 21 chunks an epoch: stops inside epochs 1 and 2, never at a chunk boundary 0.
  for (int stop_at : {9, 20}) EXPECT_TRUE(train_lm(stopped.path(), stop_at).interrupted);
  EXPECT_GT(train::read_run_state(stopped.path()).batch_in_epoch, 0);
  const RunResult resumed = train_lm(stopped.path(), 0);
  EXPECT_EQ(resumed.weights, reference.weights);
  EXPECT_EQ(resumed.metrics, reference.metrics);
}

TEST(TextTraining, ALanguageModelLearnsARepeatingTextAcrossChunks) {
  test::TempDir data, run;
  write_lm_data(data);
  const train::TextVocabs vocabs = train::build_vocabs(train::TextTask::language_model, data.path(), 1);
  EXPECT_EQ(vocabs.words->size(), 2 + 6 + 1);  // <pad> <unk>, six words, <eos>
  EXPECT_FALSE(vocabs.targets);
  graph::Graph g = tiny_graph(kTinyLm, train::data_sizes(vocabs, train::TextTask::language_model));
  train::TextSplit train_split(train::TextTask::language_model, data.path(), "train", vocabs, Device::cpu(), 4, 5);
  train::TextSplit test_split(train::TextTask::language_model, data.path(), "test", vocabs, Device::cpu(), 4, 5);
  EXPECT_EQ(train_split.tokens(), 60 * 7);
  train::BatchSource& source = train_split.source();
  EXPECT_TRUE(source.carries_state());
  source.plan(3, 0, 4);
  EXPECT_EQ(source.batches(), (105 - 1 + 4) / 5);  // 4 streams of 105 tokens, 104 targets each
  EXPECT_EQ(source.items(), 104 * 4);
  EXPECT_TRUE(throws_error_with([&] { source.plan(3, 0, 8); }, {"4 streams", "batch size 4"}));
  train::Trainer trainer(g, tiny_config(run.path(), 8, 4));
  const std::vector<train::EpochRecord> records = trainer.fit(source, &test_split.source());
  // A cycle of 7 tokens: the state carried across chunk boundaries makes every next
  // word predictable, so the perplexity falls near 1.
  EXPECT_LT(std::exp(records.back().test_loss), 1.5);
  const nlohmann::json last = nlohmann::json::parse([&] {
    std::ifstream in(run.file("metrics.jsonl"));
    std::string line, latest;
    while (std::getline(in, line)) latest = line;
    return latest;
  }());
  EXPECT_NEAR(last["test_perplexity"].get<double>(), std::exp(last["test_loss"].get<double>()), 1e-9);
}

TEST(TextTraining, VocabulariesRoundTripThroughTheRunDirectoryAndMustFitTheWeights) {
  test::TempDir data, run;
  write_tagging_data(data);
  const train::TextVocabs built = train::build_vocabs(train::TextTask::tagging, data.path(), 2);
  train::save_vocabs(built, train::TextTask::tagging, run.path());
  const train::TextVocabs loaded = train::load_vocabs(train::TextTask::tagging, run.path());
  EXPECT_EQ(loaded.words->tokens(), built.words->tokens());
  EXPECT_EQ(loaded.targets->tokens(), built.targets->tokens());
  // min_count 2: each word appears 5 times in train here, so all are kept.
  EXPECT_EQ(built.words->size(), 2 + 12);
  // Weights trained with another vocabulary do not load: the message names the tensor.
  graph::Graph g = tiny_graph(kTinyTagger, train::data_sizes(built, train::TextTask::tagging));
  std::vector<NamedTensor> weights;
  for (graph::Param* p : g.params()) weights.push_back({p->name, &p->value});
  save_safetensors(run.file("model.safetensors"), weights, {});
  graph::DataSizes other = train::data_sizes(built, train::TextTask::tagging);
  other["words"] += 1;
  graph::Graph h = tiny_graph(kTinyTagger, other);
  EXPECT_TRUE(throws_error_with([&] { train::load_weights(run.file("model.safetensors"), h); },
                                {"'embed.weight' has shape [14, 8]", "needs [15, 8]"}));
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

struct ParityTrace {
  double train_loss = 0;
  std::vector<std::vector<float>> initial, final;
};

// One epoch of SGD (a few steps) of a tiny model for `task` on `device`.
ParityTrace train_on(Device device, train::TextTask task, const char* yaml, const test::TempDir& data) {
  const train::TextVocabs vocabs = train::build_vocabs(task, data.path(), 1);
  graph::GraphOptions options;
  options.seed = 11;
  graph::Graph g(device, options);
  graph::add_model_yaml(g, yaml, "<tiny>", train::data_sizes(vocabs, task));
  g.build();
  train::TextSplit split(task, data.path(), "train", vocabs, device, 4, 5);
  train::TrainConfig c = tiny_config("", 1, 4);
  c.seed = 11;
  c.optimizer.kind = train::OptimizerKind::sgd;
  c.schedule.base_lr = 0.1f;
  ParityTrace t;
  for (graph::Param* p : g.params()) t.initial.push_back(p->value.to_vector());
  train::Trainer trainer(g, c);
  t.train_loss = trainer.fit(split.source(), nullptr).at(0).train_loss;
  for (graph::Param* p : g.params()) t.final.push_back(p->value.to_vector());
  return t;
}

// The same epoch on simt (kiln's CUDA kernels on the emulator) and cpu: bucketed
// batches with lengths and padding (tagger), and chunks with the state carried
// (language model).
TEST(TextParity, SimtMatchesCpuForATaggerAndALanguageModel) {
  test::TempDir tagging, text;
  write_tagging_data(tagging);
  write_lm_data(text);
  const std::pair<train::TextTask, const char*> cases[] = {
      {train::TextTask::tagging, kTinyTagger}, {train::TextTask::language_model, kTinyLm}};
  for (const auto& [task, yaml] : cases) {
    const test::TempDir& data = task == train::TextTask::tagging ? tagging : text;
    const ParityTrace cpu = train_on(Device::cpu(), task, yaml, data);
    const ParityTrace simt = train_on(Device::simt(), task, yaml, data);
    ASSERT_EQ(cpu.initial, simt.initial);
    // Float32 on both, differing in summation order only (OpenBLAS and the cells' libmvec
    // exp/tanh within 4 ulp on cpu; the kernels' orders and CUDA-style math on simt). The
    // sums are short here (at most 8 + 16 hidden terms, bptt 5 steps back), so values
    // differ by ~1e-6 relative; after 8 to 21 SGD steps at lr 0.1 the weights by ~1e-6,
    // while a wrong gradient term would move one by ~1e-2.
    EXPECT_NEAR(simt.train_loss, cpu.train_loss, 1e-4 * std::abs(cpu.train_loss));
    for (size_t i = 0; i < cpu.final.size(); ++i) {
      EXPECT_TRUE(test::all_close(simt.final[i], cpu.final[i], 2e-5, 1e-4)) << "parameter " << i;
    }
    EXPECT_NE(cpu.final, cpu.initial);
  }
}

}  // namespace
}  // namespace kiln
