// The trainer end to end on a tiny model (linear, tanh, dropout, linear, softmax
// cross-entropy) over synthetic data on cpu: learning, metrics, exact resume and
// divergence handling. Needs the linear, dropout and softmax_cross_entropy ops
// and the safetensors writer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "kiln/error.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/run_dir.h"
#include "kiln/train/trainer.h"
#include "train/synthetic_data.h"

namespace kiln {
namespace {

const char* kTinyModel = R"(
name: tiny
layers:
  - {name: x, type: input, shape: [6]}
  - {name: y, type: input, shape: []}
  - {name: fc1, type: linear, input: x, out_features: 8, weight_init: xavier_uniform}
  - {name: act, type: tanh}
  - {name: drop, type: dropout, p: 0.25}
  - {name: fc2, type: linear, out_features: 3, weight_init: xavier_normal,
     bias_init: {type: constant, value: 0.01}}
  - {name: loss, type: softmax_cross_entropy, inputs: [fc2, y]}
)";

graph::Graph tiny_graph(uint64_t seed) {
  graph::GraphOptions options;
  options.seed = seed;
  graph::Graph g(Device::cpu(), options);
  graph::add_model_yaml(g, kTinyModel);
  g.build();
  return g;
}

train::TrainConfig tiny_config(const std::string& run_dir, int epochs) {
  train::TrainConfig c;
  c.epochs = epochs;
  c.batch_size = 5;  // 48 samples: 9 full batches and a partial one per epoch
  c.seed = 11;
  c.log_every = 1;
  c.optimizer.kind = train::OptimizerKind::adam;
  c.optimizer.clip_norm = 1.0f;
  c.schedule.base_lr = 0.02f;
  c.schedule.kind = train::ScheduleKind::cosine;
  c.run_dir = run_dir;
  c.progress = false;
  return c;
}

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("kiln_train_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

struct TinyRun {
  std::vector<double> losses;
  std::vector<std::vector<float>> weights;
};

// Trains up to `epochs` epochs of a run planned for `planned` epochs (the cosine
// schedule spans the planned run), stopping early as an interruption would.
TinyRun train_tiny(const std::string& run_dir, int epochs, bool resume, int planned = 0) {
  test::SyntheticData data(48, {6}, 3, Device::cpu(), 3);
  graph::Graph g = tiny_graph(11);
  train::Trainer trainer(g, tiny_config(run_dir, planned ? planned : epochs));
  trainer.on_epoch = [&](const train::EpochRecord& r) { return r.epoch < epochs; };
  if (resume) trainer.resume(run_dir);
  TinyRun run;
  trainer.on_log = [&](int64_t, double loss) { run.losses.push_back(loss); };
  trainer.fit(data, &data);
  for (graph::Param* p : g.params()) run.weights.push_back(p->value.to_vector());
  return run;
}

TEST(Trainer, LearnsAndWritesMetricsAndCheckpoints) {
  const std::string dir = temp_dir("learn");
  test::SyntheticData data(48, {6}, 3, Device::cpu(), 3);
  graph::Graph g = tiny_graph(11);
  train::Trainer trainer(g, tiny_config(dir, 8));
  const auto records = trainer.fit(data, &data);
  ASSERT_EQ(records.size(), 8u);
  EXPECT_LT(records.back().train_loss, 0.5 * records.front().train_loss);
  EXPECT_GT(records.back().test_accuracy, 0.9);
  EXPECT_EQ(records.back().step, 8 * 10);
  std::ifstream metrics(dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    for (const char* key : {"epoch", "step", "train_loss", "train_accuracy", "test_loss",
                            "test_accuracy", "images_per_second", "seconds"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
    }
  }
  EXPECT_EQ(lines, 8);
  const train::RunState s = train::read_run_state(dir);
  EXPECT_EQ(s.epoch, 8);
  EXPECT_EQ(s.step, 80);
  EXPECT_EQ(s.seed, 11u);
  std::filesystem::remove_all(dir);
}

// cpu with a fixed seed is deterministic, and the checkpoint holds the whole
// state (weights, Adam moments, step, epoch, seed), so the resumed run must
// repeat the uninterrupted run's losses bit for bit.
TEST(Trainer, ResumeReproducesTheUninterruptedRunExactly) {
  const std::string whole = temp_dir("whole"), split = temp_dir("split");
  const TinyRun uninterrupted = train_tiny(whole, 2, false);
  const TinyRun first = train_tiny(split, 1, false, 2);
  const TinyRun second = train_tiny(split, 2, true);
  std::vector<double> resumed = first.losses;
  resumed.insert(resumed.end(), second.losses.begin(), second.losses.end());
  ASSERT_EQ(uninterrupted.losses.size(), 20u);
  EXPECT_EQ(resumed, uninterrupted.losses);
  EXPECT_EQ(second.weights, uninterrupted.weights);
  std::filesystem::remove_all(whole);
  std::filesystem::remove_all(split);
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Trainer, DivergenceStopsWithAClearMessageAndKeepsTheCheckpoint) {
  const std::string dir = temp_dir("nan");
  train_tiny(dir, 1, false);
  const std::string good = file_bytes(train::weights_path(dir));
  test::SyntheticData data(48, {6}, 3, Device::cpu(), 3);
  {
    // The first run used Adam; a resume with another optimizer is refused clearly.
    graph::Graph g = tiny_graph(11);
    train::TrainConfig config = tiny_config(dir, 2);
    config.optimizer.kind = train::OptimizerKind::sgd;
    train::Trainer trainer(g, config);
    EXPECT_THROW(trainer.resume(dir), Error);
  }
  graph::Graph g = tiny_graph(11);
  train::TrainConfig config = tiny_config(dir, 2);
  config.optimizer.clip_norm = 0;
  config.schedule.kind = train::ScheduleKind::constant;
  config.schedule.base_lr = 1e30f;
  train::Trainer trainer(g, config);
  trainer.resume(dir);
  try {
    trainer.fit(data, nullptr);
    FAIL() << "a learning rate of 1e30 trained without diverging";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("diverged"), std::string::npos) << what;
    EXPECT_NE(what.find("--lr"), std::string::npos) << what;
    EXPECT_NE(what.find("--clip-norm"), std::string::npos) << what;
  }
  EXPECT_EQ(file_bytes(train::weights_path(dir)), good);
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, WeightsWithTheWrongShapeAreRejectedByName) {
  const std::string dir = temp_dir("shape");
  train_tiny(dir, 1, false);
  graph::Graph other(Device::cpu());
  graph::add_model_yaml(other, R"(
layers:
  - {name: x, type: input, shape: [7]}
  - {name: fc1, type: linear, out_features: 8}
)");
  other.build();
  try {
    train::load_weights(train::weights_path(dir), other);
    FAIL() << "mismatched weights loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'fc1.weight' has shape [8, 6] but the model needs [8, 7]"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln
