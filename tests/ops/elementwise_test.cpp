// fill, scale, axpy, add, mul and Philox uniform on every device vs plain loops.
#include <gtest/gtest.h>

#include "kiln/error.h"
#include "kiln/ops/elementwise.h"
#include "kiln/philox.h"
#include "support/op_test.h"

namespace kiln {
namespace {

struct Case {
  Device device;
  int64_t n;
};

class ElementwiseTest : public testing::TestWithParam<Case> {};

TEST_P(ElementwiseTest, FillScaleAxpy) {
  const auto [device, n] = GetParam();
  Tensor y({n}, device);
  ops::fill(y, 1.5f);
  ops::scale(y, -2.0f);
  const Tensor x = test::random_tensor({n}, device, 11);
  ops::axpy(0.25f, x, y);
  const std::vector<float> xs = x.to_vector();
  std::vector<double> expected(n);
  for (int64_t i = 0; i < n; ++i) expected[i] = -3.0 + 0.25 * xs[i];
  EXPECT_TRUE(test::all_close(y.to_vector(), expected, 1e-6, 1e-6));
}

TEST_P(ElementwiseTest, AddMul) {
  const auto [device, n] = GetParam();
  const Tensor a = test::random_tensor({n}, device, 1), b = test::random_tensor({n}, device, 2);
  Tensor sum({n}, device), product({n}, device);
  ops::add(a, b, sum);
  ops::mul(a, b, product);
  const std::vector<float> av = a.to_vector(), bv = b.to_vector();
  std::vector<double> expected_sum(n), expected_product(n);
  for (int64_t i = 0; i < n; ++i) {
    expected_sum[i] = static_cast<double>(av[i]) + bv[i];
    expected_product[i] = static_cast<double>(av[i]) * bv[i];
  }
  EXPECT_TRUE(test::all_close(sum.to_vector(), expected_sum, 1e-6, 1e-6));
  EXPECT_TRUE(test::all_close(product.to_vector(), expected_product, 1e-6, 1e-6));
}

// Philox draws must be bit-identical on every device: initialisers and dropout
// masks depend on it.
TEST_P(ElementwiseTest, UniformIsIdenticalToHostPhilox) {
  const auto [device, n] = GetParam();
  Tensor y({n}, device);
  ops::uniform(y, 1234, 77, -0.5f, 2.0f);
  const std::vector<float> got = y.to_vector();
  for (int64_t i = 0; i < n; ++i) {
    const float expected = -0.5f + 2.5f * philox::uniform(1234, 77, static_cast<uint64_t>(i));
    ASSERT_EQ(got[i], expected) << "element " << i;
  }
}

TEST(ElementwiseErrors, ShapeMismatchNamesOpAndShapes) {
  const Tensor a = Tensor::zeros({3}, Device::cpu());
  const Tensor b = Tensor::zeros({4}, Device::cpu());
  Tensor out({3}, Device::cpu());
  try {
    ops::add(a, b, out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add: shape mismatch [3] vs [4]"), std::string::npos)
        << e.what();
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // 1, odd, one short of a block, one over, and several grid-stride rounds on cpu/cuda.
  for (const Device& d : test::test_devices()) {
    for (int64_t n : {1, 7, 255, 257, 1000}) out.push_back({d, n});
    if (!d.is_simt()) out.push_back({d, 3 * 4096 * 256 + 5});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Devices, ElementwiseTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           return test::device_name(info.param.device) + "_n" +
                                  std::to_string(info.param.n);
                         });

}  // namespace
}  // namespace kiln
