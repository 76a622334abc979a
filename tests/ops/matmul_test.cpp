// The tiled shared-memory matmul kernel (and OpenBLAS on cpu) vs a naive product.
#include <gtest/gtest.h>

#include "kiln/error.h"
#include "kiln/ops/matmul.h"
#include "reference/elementwise.h"
#include "support/op_test.h"

namespace kiln {
namespace {

struct Case {
  Device device;
  int m, n, k;
};

class MatmulTest : public testing::TestWithParam<Case> {};

TEST_P(MatmulTest, MatchesNaiveProduct) {
  const auto [device, m, n, k] = GetParam();
  const Tensor a = test::random_tensor({m, k}, device, 1), b = test::random_tensor({k, n}, device, 2);
  Tensor c({m, n}, device);
  ops::matmul(a, b, c);
  EXPECT_TRUE(test::all_close(c.to_vector(), reference::matmul(a.to_vector(), b.to_vector(), m, n, k),
                              1e-5, 1e-5));
}

TEST(MatmulErrors, InnerDimensionMismatch) {
  const Tensor a = Tensor::zeros({2, 3}, Device::cpu()), b = Tensor::zeros({4, 5}, Device::cpu());
  Tensor c({2, 5}, Device::cpu());
  EXPECT_THROW(ops::matmul(a, b, c), Error);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const Device& d : test::test_devices()) {
    // 1x1x1, exact tiles, ragged tiles in every dimension, k shorter than a tile.
    for (auto [m, n, k] : std::vector<std::array<int, 3>>{
             {1, 1, 1}, {16, 16, 16}, {17, 33, 15}, {5, 40, 3}, {31, 7, 50}}) {
      out.push_back({d, m, n, k});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Devices, MatmulTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           const Case& c = info.param;
                           return test::device_name(c.device) + "_" + std::to_string(c.m) + "x" +
                                  std::to_string(c.n) + "x" + std::to_string(c.k);
                         });

}  // namespace
}  // namespace kiln
