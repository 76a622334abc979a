// Dropout: reference agreement, identical masks on every device (bit for bit),
// p = 0 identity, the drop rate, gradient check and argument errors.
#include "kiln/ops/dropout.h"

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>

#include "kiln/error.h"
#include "kiln/philox.h"
#include "support/cpu_isa.h"
#include "reference/dropout.h"
#include "reference/gradient_check.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::to_double;
using test::all_close;

constexpr uint64_t kSeed = 0x5eed1234abcdULL, kOffset = 77;

struct DropoutCase {
  std::string name;
  Shape shape;
  float p;
};

std::vector<DropoutCase> dropout_cases() {
  return {{"one_element_p05", {1}, 0.5f},
          {"odd_p01", {3, 7, 5}, 0.1f},
          {"alexnet_fc_p05", {2, 4096}, 0.5f},
          {"odd_p09", {1, 1001}, 0.9f}};
}

using DropoutParam = std::tuple<Device, DropoutCase>;
class DropoutTest : public testing::TestWithParam<DropoutParam> {};

TEST_P(DropoutTest, ForwardAndBackwardMatchReferenceAndCpuBitForBit) {
  const auto& [device, c] = GetParam();
  const Tensor x = test::random_tensor(c.shape, device, 1);
  const Tensor dy = test::random_tensor(c.shape, device, 2);
  Tensor y(c.shape, device), dx(c.shape, device);
  ops::dropout_forward(x, y, c.p, kSeed, kOffset);
  ops::dropout_backward(dy, dx, c.p, kSeed, kOffset);
  EXPECT_TRUE(all_close(y.to_vector(), reference::dropout(to_double(x.to_vector()), c.p, kSeed, kOffset), 0, 1e-6));
  EXPECT_TRUE(all_close(dx.to_vector(), reference::dropout(to_double(dy.to_vector()), c.p, kSeed, kOffset), 0, 1e-6));

  const Tensor x_cpu = test::random_tensor(c.shape, Device::cpu(), 1);
  Tensor y_cpu(c.shape, Device::cpu());
  ops::dropout_forward(x_cpu, y_cpu, c.p, kSeed, kOffset);
  const std::vector<float> got = y.to_vector(), cpu = y_cpu.to_vector();
  EXPECT_EQ(0, std::memcmp(got.data(), cpu.data(), got.size() * sizeof(float)))
      << "dropout output on " << device.str() << " differs from cpu";
}

TEST_P(DropoutTest, ZeroProbabilityIsIdentity) {
  const auto& [device, c] = GetParam();
  const Tensor x = test::random_tensor(c.shape, device, 3);
  Tensor y(c.shape, device);
  ops::dropout_forward(x, y, 0.0f, kSeed, kOffset);
  EXPECT_TRUE(all_close(y.to_vector(), x.to_vector(), 0, 0));
}

std::string dropout_param_name(const testing::TestParamInfo<DropoutParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, DropoutTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(dropout_cases())),
                         dropout_param_name);

TEST(DropoutStatistics, DropRateIsP) {
  const int64_t n = 200000;
  const Tensor x = Tensor::full({n}, 1.0f, Device::cpu());
  Tensor y({n}, Device::cpu());
  for (float p : {0.1f, 0.5f, 0.8f}) {
    ops::dropout_forward(x, y, p, 42, 0);
    int64_t dropped = 0;
    for (float v : y.to_vector()) dropped += v == 0.0f;
    const double sigma = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(dropped), n * p, 5 * sigma) << "p = " << p;
  }
}

TEST(DropoutStatistics, OffsetAndSeedChangeTheMask) {
  const Tensor x = Tensor::full({1000}, 1.0f, Device::cpu());
  Tensor a({1000}, Device::cpu()), b({1000}, Device::cpu()), c({1000}, Device::cpu());
  ops::dropout_forward(x, a, 0.5f, 1, 0);
  ops::dropout_forward(x, b, 0.5f, 1, 1000);
  ops::dropout_forward(x, c, 0.5f, 2, 0);
  EXPECT_NE(a.to_vector(), b.to_vector());
  EXPECT_NE(a.to_vector(), c.to_vector());
}

// Each instruction-set variant of the cpu loop gives the mask's exact bits: kept elements
// x * scale, dropped ones +0 even where x is negative, inf or NaN (a select, not a product
// with the mask), over a full span, a partial batch and a single element.
TEST(DropoutIsas, EveryVariantGivesExactlyTheMaskedValues) {
  const float p = 0.4f, scale = 1.0f / (1.0f - p);
  for (const int64_t n : {int64_t{1}, int64_t{1001}, int64_t{3 * 4096 + 7}}) {
    std::vector<float> x = test::random_vector(n, 9);
    for (int64_t i = 0; i < n; i += 5) x[i] = -x[i];
    if (n > 3) x[1] = INFINITY, x[2] = -INFINITY, x[3] = NAN;
    std::vector<float> expected(n);
    for (int64_t i = 0; i < n; ++i)
      expected[i] = philox::uniform(kSeed, kOffset, i) >= p ? x[i] * scale : 0.0f;
    for (const cpu::Isa isa : cpu::supported_isas()) {
      test::ScopedIsa variant(isa);
      const Tensor in = Tensor::from_vector(x, {n}, Device::cpu());
      Tensor out({n}, Device::cpu());
      ops::dropout_forward(in, out, p, kSeed, kOffset);
      const std::vector<float> got = out.to_vector();
      EXPECT_EQ(0, std::memcmp(got.data(), expected.data(), n * sizeof(float)))
          << cpu::isa_name(isa) << ", n = " << n;
    }
  }
}

TEST(DropoutGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  const auto x = to_double(test::random_vector(50, 4)), dy = to_double(test::random_vector(50, 5));
  const auto forward = [](const std::vector<double>& at) { return reference::dropout(at, 0.3, kSeed, kOffset); };
  EXPECT_TRUE(reference::gradients_agree(reference::dropout(dy, 0.3, kSeed, kOffset),
                                         reference::numeric_gradient(forward, x, dy)));
}

TEST(DropoutErrors, RejectsBadProbabilityAndShapes) {
  const Tensor x = Tensor::zeros({4}, Device::cpu());
  Tensor y = Tensor::zeros({4}, Device::cpu()), bad = Tensor::zeros({5}, Device::cpu());
  EXPECT_THROW(ops::dropout_forward(x, y, 1.0f, 1, 0), Error);
  EXPECT_THROW(ops::dropout_forward(x, y, -0.1f, 1, 0), Error);
  EXPECT_THROW(ops::dropout_forward(x, y, std::nanf(""), 1, 0), Error);
  EXPECT_THROW(ops::dropout_forward(x, bad, 0.5f, 1, 0), Error);
  EXPECT_THROW(ops::dropout_backward(x, bad, 0.5f, 1, 0), Error);
}

}  // namespace
}  // namespace kiln
