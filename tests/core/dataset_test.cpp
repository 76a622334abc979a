// Data sets: loading IDX splits, the epoch permutation, and the on-device batch
// gather on every device against the host computation (bit-exact).
#include "kiln/data/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "core/temp_dir.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using test::TempDir;
using test::throws_error_with;

constexpr float kMean = 0.2860f, kStddev = 0.3530f;

// Pixels cover 0 and 255 and vary per image; labels cycle through the classes.
ImageDataset sample_dataset(int64_t count, int rows, int cols) {
  ImageDataset data;
  data.images.count = count;
  data.images.rows = rows;
  data.images.cols = cols;
  for (int64_t i = 0; i < count * rows * cols; ++i) {
    data.images.pixels.push_back(static_cast<uint8_t>(i % 7 == 0 ? 255 : (i * 131 + i / 5) % 256));
  }
  for (int64_t i = 0; i < count; ++i) data.labels.push_back(static_cast<uint8_t>((i * 3) % 10));
  return data;
}

// The batch at positions [first, first + batch) of `order`, computed on the host
// with the documented formula.
void expected_batch(const ImageDataset& data, const std::vector<int32_t>& order, int64_t first,
                    int64_t batch, std::vector<float>& images, std::vector<float>& labels) {
  const int64_t size = int64_t{data.images.rows} * data.images.cols;
  images.clear();
  labels.clear();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t item = order[first + b];
    for (int64_t i = 0; i < size; ++i) {
      const float pixel = data.images.pixels[item * size + i];
      images.push_back((pixel / 255.0f - kMean) / kStddev);
    }
    labels.push_back(static_cast<float>(data.labels[item]));
  }
}

TEST(ShuffledOrder, IsAPermutationReproducibleFromSeedAndEpoch) {
  const std::vector<int32_t> order = shuffled_order(1000, 42, 3);
  std::vector<int32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int32_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(order, shuffled_order(1000, 42, 3));
  EXPECT_NE(order, shuffled_order(1000, 42, 4));
  EXPECT_NE(order, shuffled_order(1000, 43, 3));
  // Seeds differing only in the high 32 bits give different orders too.
  EXPECT_NE(order, shuffled_order(1000, 42 + (uint64_t{1} << 32), 3));
  int fixed_points = 0;
  for (int32_t i = 0; i < 1000; ++i) fixed_points += order[i] == i;
  EXPECT_LT(fixed_points, 10);  // a shuffle, not the identity (expected ~1)
  EXPECT_TRUE(shuffled_order(0, 1, 0).empty());
  EXPECT_EQ(shuffled_order(1, 1, 0), std::vector<int32_t>{0});
}

TEST(ShuffledOrder, EveryPositionIsReachable) {
  // Over many epochs, item 0 lands in every position of a 5-item order.
  std::map<int, int> positions;
  for (int epoch = 0; epoch < 200; ++epoch) {
    const std::vector<int32_t> order = shuffled_order(5, 7, epoch);
    positions[static_cast<int>(std::find(order.begin(), order.end(), 0) - order.begin())]++;
  }
  ASSERT_EQ(positions.size(), 5u);
  for (const auto& [position, count] : positions) EXPECT_GT(count, 15) << "position " << position;
}

class DeviceDatasetTest : public testing::TestWithParam<Device> {};

TEST_P(DeviceDatasetTest, GatherEqualsHostComputationForAPermutation) {
  const Device device = GetParam();
  const ImageDataset data = sample_dataset(13, 5, 7);
  DeviceDataset dataset(data, device, kMean, kStddev);
  EXPECT_EQ(dataset.size(), 13);
  EXPECT_EQ(dataset.rows(), 5);
  EXPECT_EQ(dataset.cols(), 7);
  EXPECT_EQ(dataset.classes(), 10);
  dataset.shuffle(2024, 1);
  EXPECT_EQ(dataset.order(), shuffled_order(13, 2024, 1));
  std::vector<float> images, labels;
  // A full batch, then the short batch at the end of the epoch.
  for (const auto& [first, batch] : std::vector<std::pair<int64_t, int64_t>>{{0, 6}, {6, 6}, {12, 1}, {9, 4}}) {
    Tensor image_batch({batch, 1, 5, 7}, device), label_batch({batch}, device);
    dataset.gather(first, image_batch, label_batch);
    expected_batch(data, dataset.order(), first, batch, images, labels);
    EXPECT_EQ(image_batch.to_vector(), images) << "first " << first << ", batch " << batch;
    EXPECT_EQ(label_batch.to_vector(), labels) << "first " << first << ", batch " << batch;
  }
}

TEST_P(DeviceDatasetTest, UnshuffleRestoresTheIdentityOrder) {
  const Device device = GetParam();
  const ImageDataset data = sample_dataset(4, 3, 3);
  DeviceDataset dataset(data, device, 0.5f, 0.25f);
  dataset.shuffle(1, 0);
  dataset.unshuffle();
  Tensor images({4, 1, 3, 3}, device), labels({4}, device);
  dataset.gather(0, images, labels);
  const std::vector<float> got = images.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], (data.images.pixels[i] / 255.0f - 0.5f) / 0.25f) << "pixel " << i;
  }
  EXPECT_EQ(labels.to_vector(), (std::vector<float>{0, 3, 6, 9}));
}

TEST_P(DeviceDatasetTest, GatherRejectsBadShapesAndRanges) {
  const Device device = GetParam();
  DeviceDataset dataset(sample_dataset(6, 2, 3), device, 0.0f, 1.0f);
  Tensor images({2, 1, 2, 3}, device), labels({2}, device);
  Tensor wrong_images({2, 1, 3, 2}, device), wrong_labels({3}, device);
  EXPECT_TRUE(throws_error_with([&] { dataset.gather(5, images, labels); },
                                {"positions [5, 7)", "data set of 6"}));
  EXPECT_TRUE(throws_error_with([&] { dataset.gather(0, wrong_images, labels); },
                                {"[B,1,2,3]", "[2, 1, 3, 2]"}));
  EXPECT_TRUE(throws_error_with([&] { dataset.gather(0, images, wrong_labels); },
                                {"labels must be [2]"}));
  if (!device.is_cpu()) {
    Tensor cpu_images({2, 1, 2, 3}, Device::cpu());
    EXPECT_TRUE(throws_error_with([&] { dataset.gather(0, cpu_images, labels); },
                                  {"the data set is on"}));
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, DeviceDatasetTest, testing::ValuesIn(test::test_devices()),
                         [](const testing::TestParamInfo<Device>& info) {
                           return test::device_name(info.param);
                         });

TEST(DeviceDataset, RejectsBadInput) {
  ImageDataset data = sample_dataset(3, 2, 2);
  EXPECT_TRUE(throws_error_with([&] { DeviceDataset(data, Device::cpu(), 0.0f, 0.0f); },
                                {"positive stddev"}));
  data.labels[1] = 10;
  EXPECT_TRUE(throws_error_with([&] { DeviceDataset(data, Device::cpu(), 0.0f, 1.0f); },
                                {"label 10 of item 1", "10 classes"}));
}

TEST(LoadImageSplit, ReadsGzipAndPlainFilesAndChecksThem) {
  TempDir dir;
  const ImageDataset data = sample_dataset(6, 4, 4);
  write_idx_images(dir.file("train-images-idx3-ubyte.gz"), data.images);
  write_idx_labels(dir.file("train-labels-idx1-ubyte"), data.labels);
  const ImageDataset loaded = load_image_split(dir.path(), "train");
  EXPECT_EQ(loaded.images.count, 6);
  EXPECT_EQ(loaded.images.pixels, data.images.pixels);
  EXPECT_EQ(loaded.labels, data.labels);
  EXPECT_EQ(loaded.classes, 10);

  EXPECT_TRUE(throws_error_with([&] { load_image_split(dir.path(), "test"); },
                                {dir.file("t10k-images-idx3-ubyte"), "fetch_data.sh"}));
  EXPECT_TRUE(throws_error_with([&] { load_image_split(dir.path(), "valid"); },
                                {"unknown split 'valid'"}));

  write_idx_labels(dir.file("train-labels-idx1-ubyte"), {1, 2, 3});
  EXPECT_TRUE(throws_error_with([&] { load_image_split(dir.path(), "train"); },
                                {"holds 6 images", "holds 3 labels"}));
  write_idx_labels(dir.file("train-labels-idx1-ubyte"), {1, 2, 3, 4, 12, 5});
  EXPECT_TRUE(throws_error_with([&] { load_image_split(dir.path(), "train"); },
                                {dir.file("train-labels-idx1-ubyte"), "label 12",
                                 "byte offset 12", "item 4"}));
}

TEST(Take, SelectsAContiguousRange) {
  const ImageDataset data = sample_dataset(10, 2, 3);
  const ImageDataset part = take(data, 4, 3);
  EXPECT_EQ(part.images.count, 3);
  EXPECT_EQ(part.images.rows, 2);
  EXPECT_EQ(part.images.cols, 3);
  EXPECT_EQ(part.images.pixels,
            std::vector<uint8_t>(data.images.pixels.begin() + 24, data.images.pixels.begin() + 42));
  EXPECT_EQ(part.labels, std::vector<uint8_t>(data.labels.begin() + 4, data.labels.begin() + 7));
  EXPECT_TRUE(throws_error_with([&] { take(data, 8, 3); }, {"take", "[8, 11)"}));
}

// The real Fashion-MNIST, where Debian's dataset-fashion-mnist installs it
// (override with KILN_FASHION_MNIST_DIR).
TEST(FashionMnist, LoadsTheRealDataSet) {
  const char* env = std::getenv("KILN_FASHION_MNIST_DIR");
  const std::string dir = env ? env : "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not found in " << dir
                 << " (apt-get install dataset-fashion-mnist, or set KILN_FASHION_MNIST_DIR)";
  }
  for (const auto& [split, count] : {std::pair<std::string, int64_t>{"train", 60000}, {"test", 10000}}) {
    const ImageDataset data = load_image_split(dir, split);
    EXPECT_EQ(data.images.count, count);
    EXPECT_EQ(data.images.rows, 28);
    EXPECT_EQ(data.images.cols, 28);
    // Fashion-MNIST is balanced: count/10 items of each class.
    std::vector<int64_t> per_class(10);
    for (uint8_t label : data.labels) per_class[label]++;
    EXPECT_EQ(per_class, std::vector<int64_t>(10, count / 10)) << split;
  }
}

}  // namespace
}  // namespace kiln
