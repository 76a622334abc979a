// Training from IDX files through the data layer (load_image_split, DeviceDataset)
// on cpu and simt: a tiny CNN learns a synthetic 10x10 image set, and evaluating
// the saved weights reproduces the last epoch's test metrics; an augmented run
// resumes exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "kiln/data/dataset.h"
#include "kiln/data/idx.h"
#include "kiln/graph/model_file.h"
#include "kiln/philox.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/trainer.h"
#include "support/op_test.h"

namespace kiln {
namespace {

const char* kModel = R"(
layers:
  - {name: data, type: input, shape: [1, 10, 10]}
  - {name: label, type: input, shape: []}
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: same}
  - {name: relu1, type: relu}
  - {name: pool1, type: max_pool2d, kernel: 2}
  - {name: fc, type: linear, out_features: 3, weight_init: xavier_uniform}
  - {name: loss, type: softmax_cross_entropy, inputs: [fc, label]}
)";

// Class c is a bright horizontal bar in rows 3c..3c+2 over noise.
void write_split(const std::string& dir, const std::string& prefix, int64_t count, uint64_t seed) {
  IdxImages images;
  images.count = count;
  images.rows = images.cols = 10;
  std::vector<uint8_t> labels(count);
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<uint8_t>(i % 3);
    for (int p = 0; p < 100; ++p) {
      const bool bar = p / 10 >= 3 * labels[i] && p / 10 < 3 * labels[i] + 3;
      const auto noise = static_cast<int>(philox::bits(seed, 0, i * 100 + p) % 100);
      images.pixels.push_back(static_cast<uint8_t>(bar ? 150 + noise : noise));
    }
  }
  write_idx_images(dir + "/" + prefix + "-images-idx3-ubyte", images);
  write_idx_labels(dir + "/" + prefix + "-labels-idx1-ubyte", labels);
}

class IdxTraining : public testing::TestWithParam<Device> {};

TEST_P(IdxTraining, LearnsAndReloadedWeightsEvaluateTheSame) {
  const Device device = GetParam();
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("kiln_idx_" + test::device_name(device) + std::to_string(::getpid())))
                              .string();
  std::filesystem::create_directories(dir);
  write_split(dir, "train", 30, 1);
  write_split(dir, "t10k", 12, 2);
  const ImageDataset train_split = load_image_split(dir, "train");
  const ImageDataset test_split = load_image_split(dir, "test");
  DeviceDataset train_data(train_split, device, 0.3f, 0.3f);
  DeviceDataset test_data(test_split, device, 0.3f, 0.3f);
  train::DatasetSource<DeviceDataset> train_source(train_data), test_source(test_data);

  graph::GraphOptions options;
  options.seed = 3;
  graph::Graph g(device, options);
  graph::add_model_yaml(g, kModel);
  g.build();
  train::TrainConfig config;
  config.epochs = device.is_simt() ? 3 : 6;
  config.batch_size = 4;
  config.seed = 3;
  config.log_every = 5;
  config.schedule.base_lr = 0.05f;
  config.run_dir = dir + "/run";
  config.progress = false;
  train::Trainer trainer(g, config);
  const auto records = trainer.fit(train_source, &test_source);
  ASSERT_EQ(static_cast<int>(records.size()), config.epochs);
  EXPECT_LT(records.back().train_loss, records.front().train_loss);
  EXPECT_GE(records.back().test_accuracy, 0.9);

  graph::Graph reloaded(device, options);
  graph::add_model_yaml(reloaded, kModel);
  reloaded.build();
  train::load_weights(train::weights_path(config.run_dir), reloaded);
  const train::EvalResult again = train::evaluate(reloaded, test_source, 5);
  // Same weights and data; only the batch size differs (5 vs 4), which changes
  // nothing per image but the order of the float sum of per-batch losses.
  EXPECT_NEAR(again.loss, records.back().test_loss, 1e-5);
  EXPECT_EQ(again.accuracy, records.back().test_accuracy);
  std::filesystem::remove_all(dir);
}

struct AugmentedRun {
  std::vector<double> losses;
  std::vector<std::vector<float>> weights;
};

// Trains epochs [done + 1, stop] of a 2-epoch run in `run_dir` with random
// translation of up to `max_shift` pixels, resuming when done > 0.
AugmentedRun train_augmented(const std::string& data_dir, const std::string& run_dir,
                             int max_shift, int done, int stop) {
  DeviceDataset train_data(load_image_split(data_dir, "train"), Device::cpu(), 0.3f, 0.3f);
  train_data.set_augmentation(Augmentation{max_shift, 3});
  train::DatasetSource<DeviceDataset> source(train_data);
  graph::GraphOptions options;
  options.seed = 3;
  graph::Graph g(Device::cpu(), options);
  graph::add_model_yaml(g, kModel);
  g.build();
  train::TrainConfig config;
  config.epochs = 2;
  config.batch_size = 4;
  config.seed = 3;
  config.log_every = 1;
  config.schedule.base_lr = 0.05f;
  config.run_dir = run_dir;
  config.progress = false;
  train::Trainer trainer(g, config);
  if (done > 0) trainer.resume(run_dir);
  AugmentedRun run;
  trainer.on_log = [&](int64_t, double loss) { run.losses.push_back(loss); };
  trainer.on_epoch = [&](const train::EpochRecord& r) { return r.epoch < stop; };
  trainer.fit(source, nullptr);
  for (graph::Param* p : g.params()) run.weights.push_back(p->value.to_vector());
  return run;
}

// The shifts depend on (seed, epoch, position) only, so resuming after epoch 1
// repeats the uninterrupted augmented run bit for bit.
TEST(AugmentedTraining, ResumesExactly) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("kiln_augment_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  write_split(dir, "train", 30, 1);
  const AugmentedRun whole = train_augmented(dir, dir + "/whole", 2, 0, 2);
  const AugmentedRun first = train_augmented(dir, dir + "/split", 2, 0, 1);
  const AugmentedRun second = train_augmented(dir, dir + "/split", 2, 1, 2);
  std::vector<double> resumed = first.losses;
  resumed.insert(resumed.end(), second.losses.begin(), second.losses.end());
  ASSERT_EQ(whole.losses.size(), 16u);
  EXPECT_EQ(resumed, whole.losses);
  EXPECT_EQ(second.weights, whole.weights);
  // The augmentation is really on: without it the losses differ.
  EXPECT_NE(train_augmented(dir, dir + "/plain", 0, 0, 2).losses, whole.losses);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Devices, IdxTraining, testing::ValuesIn(test::test_devices()),
                         [](const auto& info) { return test::device_name(info.param); });

}  // namespace
}  // namespace kiln
