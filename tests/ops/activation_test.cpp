// relu / tanh / sigmoid on every device against the double reference, and the
// reference backward against finite differences.
#include "kiln/ops/activation.h"

#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/activation.h"
#include "reference/gradient_check.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::to_double;
using test::all_close;

struct ActivationCase {
  std::string name;
  Shape shape;
};

std::vector<ActivationCase> activation_cases() {
  return {{"one", {1}}, {"odd", {3, 5, 7}}, {"more_than_a_block", {2, 300}}};
}

using ActivationParam = std::tuple<Device, Activation, ActivationCase>;
class ActivationTest : public testing::TestWithParam<ActivationParam> {};

TEST_P(ActivationTest, ForwardAndBackwardMatchReference) {
  const auto& [device, kind, c] = GetParam();
  const Tensor x = test::random_tensor(c.shape, device, 1, -4.0f, 4.0f);
  const Tensor dy = test::random_tensor(c.shape, device, 2);
  Tensor y(c.shape, device), dx(c.shape, device);
  ops::activation_forward(kind, x, y);
  ops::activation_backward(kind, y, dy, dx);
  const auto xd = to_double(x.to_vector()), dyd = to_double(dy.to_vector());
  EXPECT_TRUE(all_close(y.to_vector(), reference::activation_forward(kind, xd), 1e-6, 1e-5));
  // The backward works from y in float: 1 - y^2 loses relative precision as |y| -> 1.
  EXPECT_TRUE(all_close(dx.to_vector(), reference::activation_backward(kind, xd, dyd), 1e-6, 1e-4));
}

std::string activation_param_name(const testing::TestParamInfo<ActivationParam>& info) {
  const auto& [device, kind, c] = info.param;
  return test::device_name(device) + "_" + activation_name(kind) + "_" + c.name;
}

INSTANTIATE_TEST_SUITE_P(Devices, ActivationTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::Values(Activation::relu, Activation::tanh,
                                                          Activation::sigmoid),
                                          testing::ValuesIn(activation_cases())),
                         activation_param_name);

TEST(ActivationGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  const auto x = to_double(test::random_vector(64, 3, -4.0f, 4.0f));
  const auto dy = to_double(test::random_vector(64, 4));
  for (Activation kind : {Activation::relu, Activation::tanh, Activation::sigmoid}) {
    const auto forward = [&](const std::vector<double>& at) { return reference::activation_forward(kind, at); };
    EXPECT_TRUE(reference::gradients_agree(reference::activation_backward(kind, x, dy),
                                           reference::numeric_gradient(forward, x, dy)))
        << activation_name(kind);
  }
}

TEST(ActivationErrors, RejectsMismatchedShapesAndUnknownNames) {
  const Tensor x = Tensor::zeros({4}, Device::cpu());
  Tensor bad = Tensor::zeros({5}, Device::cpu());
  EXPECT_THROW(ops::activation_forward(Activation::relu, x, bad), Error);
  EXPECT_THROW(ops::activation_backward(Activation::tanh, x, x, bad), Error);
  EXPECT_THROW(parse_activation("gelu"), Error);
}

}  // namespace
}  // namespace kiln
