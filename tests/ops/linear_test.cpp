// Linear layer on every device against the naive reference, gradient checks and
// argument errors.
#include "kiln/ops/linear.h"

#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/gradient_check.h"
#include "reference/linear.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::LinearCase;
using reference::to_double;
using test::all_close;

struct NamedLinearCase {
  std::string name;
  LinearCase s;
};

std::vector<NamedLinearCase> linear_cases() {
  return {{"1x1x1", {1, 1, 1}},
          {"batch1_odd", {1, 7, 5}},
          {"3x5x7", {3, 5, 7}},
          {"rows_above_32_cols_odd", {37, 9, 70}},
          {"lenet_84_10", {64, 84, 10}},
          {"lenet_400_120", {64, 400, 120}}};
}

using LinearParam = std::tuple<Device, NamedLinearCase>;
class LinearTest : public testing::TestWithParam<LinearParam> {};

TEST_P(LinearTest, ForwardAndBackwardMatchReference) {
  const auto& [device, named] = GetParam();
  const LinearCase& s = named.s;
  const Tensor x = test::random_tensor({s.batch, s.in}, device, 1);
  const Tensor w = test::random_tensor({s.out, s.in}, device, 2);
  const Tensor b = test::random_tensor({s.out}, device, 3);
  const Tensor dy = test::random_tensor({s.batch, s.out}, device, 4);
  Tensor y({s.batch, s.out}, device), y_nobias({s.batch, s.out}, device);
  Tensor dx({s.batch, s.in}, device), dw({s.out, s.in}, device), db({s.out}, device);
  ops::linear_forward(x, w, &b, y);
  ops::linear_forward(x, w, nullptr, y_nobias);
  ops::linear_backward(x, w, dy, &dx, dw, &db);

  const auto xd = to_double(x.to_vector()), wd = to_double(w.to_vector());
  const auto bd = to_double(b.to_vector()), dyd = to_double(dy.to_vector());
  // Sums of `in` products of values in [-1, 1): float error grows like sqrt(in) eps.
  const double atol = 1e-5 * (1 + s.in / 16.0), batch_atol = 1e-5 * (1 + s.batch / 16.0);
  EXPECT_TRUE(all_close(y.to_vector(), reference::linear_forward(s, xd, wd, bd), atol, 1e-5));
  EXPECT_TRUE(all_close(y_nobias.to_vector(), reference::linear_forward(s, xd, wd, {}), atol, 1e-5));
  const reference::LinearGrads g = reference::linear_backward(s, xd, wd, dyd);
  EXPECT_TRUE(all_close(dx.to_vector(), g.dx, 1e-5 * (1 + s.out / 16.0), 1e-5));
  EXPECT_TRUE(all_close(dw.to_vector(), g.dw, batch_atol, 1e-5));
  EXPECT_TRUE(all_close(db.to_vector(), g.db, batch_atol, 1e-5));
}

std::string linear_param_name(const testing::TestParamInfo<LinearParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, LinearTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(linear_cases())),
                         linear_param_name);

TEST(LinearGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  const LinearCase s{3, 5, 4};
  const auto x = to_double(test::random_vector(15, 5)), w = to_double(test::random_vector(20, 6));
  const auto b = to_double(test::random_vector(4, 7)), dy = to_double(test::random_vector(12, 8));
  const reference::LinearGrads g = reference::linear_backward(s, x, w, dy);
  EXPECT_TRUE(reference::gradients_agree(
      g.dx, reference::numeric_gradient(
                [&](const std::vector<double>& at) { return reference::linear_forward(s, at, w, b); }, x, dy)));
  EXPECT_TRUE(reference::gradients_agree(
      g.dw, reference::numeric_gradient(
                [&](const std::vector<double>& at) { return reference::linear_forward(s, x, at, b); }, w, dy)));
  EXPECT_TRUE(reference::gradients_agree(
      g.db, reference::numeric_gradient(
                [&](const std::vector<double>& at) { return reference::linear_forward(s, x, w, at); }, b, dy)));
}

TEST(LinearErrors, RejectsBadShapes) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({2, 3}, cpu), w = Tensor::zeros({4, 3}, cpu);
  const Tensor w_bad = Tensor::zeros({4, 5}, cpu), b_bad = Tensor::zeros({3}, cpu);
  Tensor y = Tensor::zeros({2, 4}, cpu), y_bad = Tensor::zeros({2, 5}, cpu);
  EXPECT_THROW(ops::linear_forward(x, w_bad, nullptr, y), Error);
  EXPECT_THROW(ops::linear_forward(x, w, nullptr, y_bad), Error);
  EXPECT_THROW(ops::linear_forward(x, w, &b_bad, y), Error);
  const Tensor x4 = Tensor::zeros({2, 3, 1, 1}, cpu);
  EXPECT_THROW(ops::linear_forward(x4, w, nullptr, y), Error);
  Tensor dw_bad = Tensor::zeros({3, 4}, cpu);
  EXPECT_THROW(ops::linear_backward(x, w, y, nullptr, dw_bad, nullptr), Error);
}

}  // namespace
}  // namespace kiln
