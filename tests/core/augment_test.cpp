// Random-translation augmentation in the batch gather: the shifts against the
// Philox reference, the augmented batch against a host computation on every device
// (bit-exact), max_shift 0 and evaluation order unaugmented, and shifts that depend
// only on (seed, epoch, position) so a resumed run draws the same batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "kiln/data/augment.h"
#include "kiln/data/dataset.h"
#include "core/temp_dir.h"
#include "reference/augment.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using test::throws_error_with;

constexpr float kMean = 0.13f, kStddev = 0.31f;
constexpr int kRows = 6, kCols = 7;

// Every pixel nonzero (1..255), so a background 0 shifted in is always visible.
ImageDataset sample_dataset(int64_t count) {
  ImageDataset data;
  data.images.count = count;
  data.images.rows = kRows;
  data.images.cols = kCols;
  for (int64_t i = 0; i < count * kRows * kCols; ++i) {
    data.images.pixels.push_back(static_cast<uint8_t>(1 + (i * 37 + i / 11) % 255));
  }
  for (int64_t i = 0; i < count; ++i) data.labels.push_back(static_cast<uint8_t>(i % 10));
  return data;
}

// The batch at positions [first, first + batch) of epoch `epoch`, on the host.
std::vector<float> expected_images(const ImageDataset& data, const std::vector<int32_t>& order,
                                   const Augmentation& augment, int epoch, int64_t first,
                                   int64_t batch) {
  std::vector<float> images;
  for (int64_t b = 0; b < batch; ++b) {
    const auto position = static_cast<uint32_t>(first + b);
    const reference::Translation t =
        reference::translation(augment.seed, augment.max_shift, epoch, position);
    const std::vector<uint8_t> moved = reference::translate(
        data.images.pixels.data() + int64_t{order[position]} * kRows * kCols, kRows, kCols, t);
    for (const uint8_t pixel : moved) images.push_back((pixel / 255.0f - kMean) / kStddev);
  }
  return images;
}

std::vector<float> gather_images(const DeviceDataset& dataset, int64_t first, int64_t batch) {
  Tensor images({batch, 1, kRows, kCols}, dataset.device()), labels({batch}, dataset.device());
  dataset.gather(first, images, labels);
  return images.to_vector();
}

TEST(ImageShift, MatchesThePhiloxReferenceAndCoversTheRange) {
  for (const int max_shift : {1, 2, 3}) {
    const Augmentation augment{max_shift, 0x1234567890abcdefull};
    std::set<int> dys, dxs;
    int unshifted = 0;
    for (uint32_t epoch = 0; epoch < 4; ++epoch) {
      for (uint32_t position = 0; position < 500; ++position) {
        const ImageShift s = image_shift(augment, epoch, position);
        const reference::Translation t =
            reference::translation(augment.seed, max_shift, epoch, position);
        ASSERT_EQ(s.dy, t.dy) << "epoch " << epoch << " position " << position;
        ASSERT_EQ(s.dx, t.dx) << "epoch " << epoch << " position " << position;
        ASSERT_LE(std::abs(s.dy), max_shift);
        ASSERT_LE(std::abs(s.dx), max_shift);
        dys.insert(s.dy);
        dxs.insert(s.dx);
        unshifted += s.dy == 0 && s.dx == 0;
      }
    }
    EXPECT_EQ(static_cast<int>(dys.size()), 2 * max_shift + 1) << "max_shift " << max_shift;
    EXPECT_EQ(static_cast<int>(dxs.size()), 2 * max_shift + 1) << "max_shift " << max_shift;
    // (0, 0) has probability 1 / (2 * max_shift + 1)^2 of the 2000 draws.
    const double expected = 2000.0 / ((2 * max_shift + 1) * (2 * max_shift + 1));
    EXPECT_NEAR(unshifted, expected, 5 * std::sqrt(expected)) << "max_shift " << max_shift;
  }
}

TEST(ImageShift, DependsOnSeedEpochAndPosition) {
  const Augmentation a{2, 7}, b{2, 7 + (uint64_t{1} << 32)};
  int differ_seed = 0, differ_epoch = 0, differ_position = 0;
  const auto differ = [](ImageShift x, ImageShift y) { return x.dy != y.dy || x.dx != y.dx; };
  for (uint32_t p = 0; p < 100; ++p) {
    differ_seed += differ(image_shift(a, 1, p), image_shift(b, 1, p));
    differ_epoch += differ(image_shift(a, 1, p), image_shift(a, 2, p));
    differ_position += differ(image_shift(a, 1, p), image_shift(a, 1, p + 100));
  }
  // Independent draws coincide with probability 1/25.
  EXPECT_GT(differ_seed, 80);
  EXPECT_GT(differ_epoch, 80);
  EXPECT_GT(differ_position, 80);
  EXPECT_EQ(image_shift(Augmentation{0, 7}, 1, 3).dy, 0);
  EXPECT_EQ(image_shift(Augmentation{0, 7}, 1, 3).dx, 0);
}

class AugmentedGather : public testing::TestWithParam<Device> {};

TEST_P(AugmentedGather, EqualsTheHostReference) {
  const Device device = GetParam();
  const ImageDataset data = sample_dataset(13);
  DeviceDataset dataset(data, device, kMean, kStddev);
  const Augmentation augment{2, 99};
  dataset.set_augmentation(augment);
  dataset.shuffle(5, 3);
  // Full batches, the short one at the end of the epoch, and an unaligned start.
  for (const auto& [first, batch] :
       std::vector<std::pair<int64_t, int64_t>>{{0, 6}, {6, 6}, {12, 1}, {3, 7}}) {
    EXPECT_EQ(gather_images(dataset, first, batch),
              expected_images(data, dataset.order(), augment, 3, first, batch))
        << "first " << first << ", batch " << batch;
  }
  // Some image really moved and took in background pixels.
  const float background = (0.0f - kMean) / kStddev;
  const std::vector<float> all = gather_images(dataset, 0, 13);
  EXPECT_GT(std::count(all.begin(), all.end(), background), 13);
}

TEST_P(AugmentedGather, MaxShiftZeroAndEvaluationOrderAreUnaugmented) {
  const Device device = GetParam();
  const ImageDataset data = sample_dataset(9);
  DeviceDataset plain(data, device, kMean, kStddev), zero(data, device, kMean, kStddev),
      augmented(data, device, kMean, kStddev);
  zero.set_augmentation(Augmentation{0, 99});
  augmented.set_augmentation(Augmentation{3, 99});
  for (DeviceDataset* d : {&plain, &zero, &augmented}) d->shuffle(4, 0);
  const std::vector<float> unaugmented = expected_images(data, plain.order(), {}, 0, 0, 9);
  EXPECT_EQ(gather_images(plain, 0, 9), unaugmented);
  EXPECT_EQ(gather_images(zero, 0, 9), unaugmented);
  EXPECT_NE(gather_images(augmented, 0, 9), unaugmented);
  // Evaluation (the identity order) never augments.
  augmented.unshuffle();
  EXPECT_EQ(gather_images(augmented, 0, 9),
            expected_images(data, augmented.order(), {}, 0, 0, 9));
}

TEST_P(AugmentedGather, ShiftsDependOnlyOnSeedEpochAndPosition) {
  // A data set that went through epochs 0..2 gathers epoch 3 exactly as a fresh one
  // (a resumed run) does.
  const Device device = GetParam();
  const ImageDataset data = sample_dataset(11);
  DeviceDataset trained(data, device, kMean, kStddev), resumed(data, device, kMean, kStddev);
  trained.set_augmentation(Augmentation{2, 8});
  resumed.set_augmentation(Augmentation{2, 8});
  for (int epoch = 0; epoch < 3; ++epoch) {
    trained.shuffle(1, epoch);
    gather_images(trained, 0, 11);
  }
  trained.shuffle(1, 3);
  resumed.shuffle(1, 3);
  EXPECT_EQ(gather_images(trained, 4, 7), gather_images(resumed, 4, 7));
}

TEST_P(AugmentedGather, IsBitIdenticalToTheCpuGather) {
  const Device device = GetParam();
  const ImageDataset data = sample_dataset(10);
  DeviceDataset on_device(data, device, kMean, kStddev);
  DeviceDataset on_cpu(data, Device::cpu(), kMean, kStddev);
  for (DeviceDataset* d : {&on_device, &on_cpu}) {
    d->set_augmentation(Augmentation{3, 21});
    d->shuffle(2, 6);
  }
  EXPECT_EQ(gather_images(on_device, 1, 9), gather_images(on_cpu, 1, 9));
}

TEST_P(AugmentedGather, RejectsShiftsOutsideTheImage) {
  DeviceDataset dataset(sample_dataset(2), GetParam(), kMean, kStddev);
  EXPECT_TRUE(throws_error_with([&] { dataset.set_augmentation(Augmentation{-1, 0}); },
                                {"[0, 5]", "6x7", "got -1"}));
  EXPECT_TRUE(throws_error_with([&] { dataset.set_augmentation(Augmentation{6, 0}); },
                                {"[0, 5]", "got 6"}));
  dataset.set_augmentation(Augmentation{5, 0});
  EXPECT_EQ(dataset.augmentation().max_shift, 5);
}

INSTANTIATE_TEST_SUITE_P(Devices, AugmentedGather, testing::ValuesIn(test::test_devices()),
                         [](const testing::TestParamInfo<Device>& info) {
                           return test::device_name(info.param);
                         });

}  // namespace
}  // namespace kiln
