// Block-wide sum (warp shuffles, two passes) vs a double-precision sum.
#include <gtest/gtest.h>

#include "kiln/ops/reduce.h"
#include "reference/elementwise.h"
#include "support/op_test.h"

namespace kiln {
namespace {

struct Case {
  Device device;
  int64_t n;
};

class SumTest : public testing::TestWithParam<Case> {};

TEST_P(SumTest, MatchesDoubleSum) {
  const auto [device, n] = GetParam();
  const Tensor x = test::random_tensor({n}, device, 5, 0.0f, 1.0f);
  Tensor out({1}, device);
  ops::sum(x, out);
  // float accumulation of n terms in [0,1): error grows like n * eps * mean.
  EXPECT_TRUE(test::all_close(out.to_vector(), reference::sum_all(x.to_vector()), 1e-5,
                              1e-6 * std::max<int64_t>(1, n / 256)));
}

TEST_P(SumTest, IsDeterministic) {
  const auto [device, n] = GetParam();
  const Tensor x = test::random_tensor({n}, device, 6);
  Tensor a({1}, device), b({1}, device);
  ops::sum(x, a);
  ops::sum(x, b);
  EXPECT_EQ(a.to_vector(), b.to_vector());
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const Device& d : test::test_devices()) {
    // 1, under a warp, not a multiple of the block, more blocks than partials.
    for (int64_t n : {1, 31, 33, 257, 1000}) out.push_back({d, n});
    out.push_back({d, d.is_simt() ? 70001 : 1 << 22});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Devices, SumTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           return test::device_name(info.param.device) + "_n" +
                                  std::to_string(info.param.n);
                         });

}  // namespace
}  // namespace kiln
