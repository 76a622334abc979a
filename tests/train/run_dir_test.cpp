// The run directory's guarantees (kiln/train/run_dir.h): a stop request commits a
// checkpoint that resumes exactly, metrics hold every epoch once, leftovers of an
// interrupted save are cleared, mismatched or damaged checkpoints and a second
// user of the directory are refused with messages naming the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/temp_dir.h"
#include "kiln/data/safetensors.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/run_dir.h"
#include "kiln/train/trainer.h"
#include "train/synthetic_data.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using test::throws_error_with;

const char* kModel = R"(
layers:
  - {name: x, type: input, shape: [4]}
  - {name: y, type: input, shape: []}
  - {name: fc1, type: linear, input: x, out_features: 6, weight_init: xavier_uniform}
  - {name: act, type: tanh}
  - {name: drop, type: dropout, p: 0.2}
  - {name: fc2, type: linear, out_features: 3, weight_init: xavier_normal}
  - {name: loss, type: softmax_cross_entropy, inputs: [fc2, y]}
)";

graph::Graph model() {
  graph::GraphOptions options;
  options.seed = 5;
  graph::Graph g(Device::cpu(), options);
  graph::add_model_yaml(g, kModel);
  g.build();
  return g;
}

train::TrainConfig config(const std::string& dir, int epochs = 3) {
  train::TrainConfig c;
  c.epochs = epochs;
  c.batch_size = 4;  // 30 samples: 7 full batches and a partial one
  c.seed = 5;
  c.log_every = 3;   // a stop falls inside a log interval
  c.optimizer.kind = train::OptimizerKind::sgd;
  c.schedule.base_lr = 0.05f;
  c.schedule.kind = train::ScheduleKind::cosine;
  c.run_dir = dir;
  c.progress = false;
  return c;
}

struct Result {
  std::vector<std::vector<float>> weights;
  std::vector<nlohmann::json> metrics;
};

std::vector<nlohmann::json> read_metrics(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("seconds");  // timings differ between runs
    j.erase("images_per_second");
    lines.push_back(j);
  }
  return lines;
}

// Trains `dir` (resuming when it holds a checkpoint), stopping once `stop_at`
// stop requests have been asked (0: never). Returns whether it was interrupted.
bool run(const std::string& dir, int stop_at = 0, Result* result = nullptr) {
  test::SyntheticData data(30, {4}, 3, Device::cpu(), 9);
  graph::Graph g = model();
  train::Trainer trainer(g, config(dir));
  if (fs::exists(dir + "/checkpoint.json")) trainer.resume(dir);
  int asked = 0;
  trainer.stop_requested = [&] { return stop_at > 0 && ++asked >= stop_at; };
  trainer.fit(data, &data);
  if (result) {
    for (graph::Param* p : g.params()) result->weights.push_back(p->value.to_vector());
    result->metrics = read_metrics(dir);
  }
  return trainer.interrupted();
}

TEST(RunDirectory, StopsMidEpochAndResumesToTheUninterruptedRunExactly) {
  test::TempDir whole, stopped;
  Result reference, resumed;
  run(whole.path(), 0, &reference);
  ASSERT_EQ(reference.metrics.size(), 3u);
  // Stops after 5, then 7 more, then 9 more step boundaries: mid-epoch each time.
  for (int stop_at : {6, 8, 10}) EXPECT_TRUE(run(stopped.path(), stop_at));
  const train::RunState s = train::read_run_state(stopped.path());
  EXPECT_GT(s.batch_in_epoch, 0);
  EXPECT_FALSE(run(stopped.path(), 0, &resumed));
  EXPECT_EQ(resumed.weights, reference.weights);
  EXPECT_EQ(resumed.metrics, reference.metrics);
}

TEST(RunDirectory, MetricsPastTheCommittedEpochAndPartialSavesAreDropped) {
  test::TempDir dir, whole;
  Result reference, resumed;
  run(whole.path(), 0, &reference);
  run(dir.path(), 9);  // stops in epoch 2: epoch 1 committed
  // What a kill between an epoch's metrics line and its commit leaves, and a
  // kill inside a save: a line for epoch 2, a torn line, a partial checkpoint.
  std::ofstream(dir.file("metrics.jsonl"), std::ios::app) << "{\"epoch\": 2}\n{\"epo";
  fs::create_directories(dir.file("checkpoints/000099"));
  std::ofstream(dir.file("checkpoint.json.tmp")) << "{";
  EXPECT_FALSE(run(dir.path(), 0, &resumed));
  EXPECT_EQ(resumed.metrics, reference.metrics);
  EXPECT_EQ(resumed.weights, reference.weights);
  EXPECT_FALSE(fs::exists(dir.file("checkpoints/000099")));
  EXPECT_FALSE(fs::exists(dir.file("checkpoint.json.tmp")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("checkpoints")), fs::directory_iterator()), 1);
}

TEST(RunDirectory, ARunKilledBeforeItsFirstCheckpointStartsAgain) {
  test::TempDir dir;
  fs::create_directories(dir.file("checkpoints/000001"));
  std::ofstream(dir.file("metrics.jsonl")) << "{\"epoch\": 1}\n";
  EXPECT_TRUE(throws_error_with([&] { train::read_run_state(dir.path()); },
                                {"holds no checkpoint", "--out " + dir.path()}));
  EXPECT_FALSE(run(dir.path()));
  EXPECT_EQ(read_metrics(dir.path()).size(), 3u);
}

TEST(RunDirectory, ANewRunRefusesADirectoryWithACheckpoint) {
  test::TempDir dir;
  run(dir.path(), 3);
  test::SyntheticData data(30, {4}, 3, Device::cpu(), 9);
  graph::Graph g = model();
  train::Trainer trainer(g, config(dir.path()));
  EXPECT_TRUE(throws_error_with([&] { trainer.fit(data, nullptr); },
                                {"already holds a trained model", "--resume"}));
}

TEST(RunDirectory, AMismatchedPairIsRefusedSayingWhatToDo) {
  test::TempDir dir;
  run(dir.path(), 12);  // epoch 1 committed as checkpoint 1, the stop as checkpoint 2
  // Another checkpoint's optimizer state, as a kill between two renames left it.
  run(dir.path(), 3);
  ASSERT_TRUE(fs::exists(dir.file("checkpoints/000003/optimizer.safetensors")));
  const std::string old_copy = dir.file("old_optimizer.safetensors");
  fs::copy_file(dir.file("checkpoints/000003/optimizer.safetensors"), old_copy);
  run(dir.path(), 3);
  fs::copy_file(old_copy, dir.file("checkpoints/000004/optimizer.safetensors"),
                fs::copy_options::overwrite_existing);
  EXPECT_TRUE(throws_error_with([&] { run(dir.path()); },
                                {"optimizer.safetensors", "kiln.checkpoint", "do not belong together",
                                 "--init"}));
}

TEST(RunDirectory, DamagedRecordsAreNamedByKey) {
  test::TempDir dir;
  run(dir.path(), 3);
  const std::string record = dir.file("checkpoint.json");
  nlohmann::json j = nlohmann::json::parse(std::ifstream(record));
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"step", "12x"}, {"step", -1}, {"epoch", 1e30}, {"seed", -3}, {"checkpoint", "1"}}) {
    nlohmann::json bad = j;
    bad[key] = value;
    std::ofstream(record) << bad.dump();
    EXPECT_TRUE(throws_error_with([&] { train::read_run_state(dir.path()); }, {record, key}))
        << key << " = " << value;
  }
  std::ofstream(record) << "{\"format\": \"kiln-checkpoint-1\", \"checkp";
  EXPECT_TRUE(throws_error_with([&] { train::read_run_state(dir.path()); }, {record, "JSON"}));
}

TEST(RunDirectory, ASecondUserIsRefusedNamingThePid) {
  test::TempDir dir;
  train::RunDirectory first(dir.path());
  EXPECT_TRUE(throws_error_with([&] { train::RunDirectory second(dir.path()); },
                                {"in use by another kiln process", "pid " + std::to_string(::getpid())}));
}

TEST(RunDirectory, AFileIsNotARunDirectory) {
  test::TempDir dir;
  std::ofstream(dir.file("file")) << "x";
  EXPECT_TRUE(throws_error_with([&] { train::RunDirectory run_dir(dir.file("file")); },
                                {dir.file("file"), "not a directory", "--out"}));
}

TEST(RunDirectory, AFailedMetricsWriteIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  test::TempDir dir;
  test::SyntheticData data(30, {4}, 3, Device::cpu(), 9);
  graph::Graph g = model();
  train::Trainer trainer(g, config(dir.path()));
  trainer.start();
  fs::create_symlink("/dev/full", dir.file("metrics.jsonl"));
  EXPECT_TRUE(throws_error_with([&] { trainer.fit(data, nullptr); },
                                {dir.file("metrics.jsonl"), "No space left on device"}));
  EXPECT_FALSE(fs::exists(dir.file("checkpoint.json")));
}

TEST(RunDirectory, AnOlderLayoutIsRefusedSayingWhatToDo) {
  test::TempDir dir;
  graph::Graph g = model();
  std::vector<NamedTensor> weights;
  for (graph::Param* p : g.params()) weights.push_back({p->name, &p->value});
  save_safetensors(dir.file("model.safetensors"), weights);
  save_safetensors(dir.file("optimizer.safetensors"), weights);
  EXPECT_TRUE(throws_error_with([&] { train::read_run_state(dir.path()); },
                                {"older kiln", "--init " + dir.file("model.safetensors")}));
}

TEST(RunDirectory, NonFiniteWeightsAreNamedOnLoad) {
  test::TempDir dir;
  graph::Graph g = model();
  g.param("fc2.bias").value.copy_from(
      Tensor::from_vector({0.0f, NAN, 1.0f}, {3}, Device::cpu()));
  std::vector<NamedTensor> weights;
  for (graph::Param* p : g.params()) weights.push_back({p->name, &p->value});
  save_safetensors(dir.file("w.safetensors"), weights);
  graph::Graph other = model();
  EXPECT_TRUE(throws_error_with([&] { train::load_weights(dir.file("w.safetensors"), other); },
                                {"'fc2.bias'", "nan", "element 1"}));
}

TEST(TrainConfig, SettingsThatCannotTrainAreNamed) {
  const std::vector<std::pair<std::function<void(train::TrainConfig&)>, std::string>> cases = {
      {[](auto& c) { c.schedule.base_lr = -0.1f; }, "--lr"},
      {[](auto& c) { c.schedule.base_lr = NAN; }, "--lr"},
      {[](auto& c) { c.schedule.base_lr = INFINITY; }, "--lr"},
      {[](auto& c) { c.schedule.gamma = -1; }, "--lr-gamma"},
      {[](auto& c) { c.schedule.gamma = NAN; }, "--lr-gamma"},
      {[](auto& c) { c.schedule.step_epochs = 0; }, "--lr-step-epochs"},
      {[](auto& c) { c.schedule.step_epochs = -2; }, "--lr-step-epochs"},
      {[](auto& c) { c.optimizer.momentum = 1; }, "--momentum"},
      {[](auto& c) { c.optimizer.beta2 = 1.5f; }, "--beta2"},
      {[](auto& c) { c.optimizer.weight_decay = -1; }, "--weight-decay"},
      {[](auto& c) { c.optimizer.clip_norm = NAN; }, "--clip-norm"},
  };
  for (const auto& [change, flag] : cases) {
    train::TrainConfig c = config("");
    change(c);
    EXPECT_TRUE(throws_error_with([&] { train::validate(c); }, {flag})) << flag;
  }
  EXPECT_NO_THROW(train::validate(config("")));
}

}  // namespace
}  // namespace kiln
