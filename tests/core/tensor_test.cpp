#include "kiln/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kiln/error.h"
#include "support/op_test.h"

namespace kiln {
namespace {

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("simt"), Device::simt());
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
  EXPECT_THROW(Device::parse("gpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
}

TEST(Device, MissingGpuGivesAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present";
  try {
    Tensor t({4}, Device::cuda());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no CUDA GPU is usable"), std::string::npos) << what;
    EXPECT_NE(what.find("--device cpu"), std::string::npos) << what;
  }
}

TEST(Device, AvailableDevicesStartWithCpuAndSimt) {
  const std::vector<Device> devices = available_devices();
  ASSERT_GE(devices.size(), 2u);
  EXPECT_TRUE(devices[0].is_cpu());
  EXPECT_TRUE(devices[1].is_simt());
}

TEST(Tensor, CopiesBetweenEveryPairOfDevices) {
  const std::vector<float> values{1, -2, 3.5f, 4, 5, 6};
  for (const Device& from : test::test_devices()) {
    const Tensor src = Tensor::from_vector(values, {2, 3}, from);
    for (const Device& to : test::test_devices()) {
      const Tensor dst = src.to(to);
      EXPECT_EQ(dst.device(), to);
      EXPECT_EQ(dst.shape(), (Shape{2, 3}));
      EXPECT_EQ(dst.to_vector(), values) << from.str() << " -> " << to.str();
    }
  }
}

TEST(Tensor, ViewSharesStorageAndChecksNumel) {
  Tensor t = Tensor::zeros({2, 6}, Device::cpu());
  Tensor v = t.view({3, 4});
  v.data()[5] = 9.0f;
  EXPECT_EQ(t.data()[5], 9.0f);
  EXPECT_THROW(t.view({5}), Error);
}

TEST(Tensor, SimtMemoryIsPoisonedUntilWritten) {
  const Tensor t({3}, Device::simt());
  for (float v : t.to_vector()) EXPECT_TRUE(std::isnan(v));
}

TEST(Tensor, ZerosFullAndMoves) {
  for (const Device& d : test::test_devices()) {
    Tensor z = Tensor::zeros({5}, d);
    EXPECT_EQ(z.to_vector(), std::vector<float>(5, 0.0f));
    Tensor f = Tensor::full({2, 2}, 3.0f, d);
    Tensor moved = std::move(f);
    EXPECT_FALSE(f.defined());
    EXPECT_EQ(moved.to_vector(), std::vector<float>(4, 3.0f));
  }
}

TEST(Tensor, NegativeDimensionsAreRejected) { EXPECT_THROW(Tensor({2, -1}, Device::cpu()), Error); }

}  // namespace
}  // namespace kiln
