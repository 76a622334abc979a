// Cross-channel LRN on every device against the naive reference (AlexNet's
// parameters and a strong, even-sized window that makes the cross-channel terms
// large), gradient checks and argument errors.
#include "kiln/ops/lrn.h"

#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/gradient_check.h"
#include "reference/lrn.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::LrnCase;
using reference::to_double;
using test::all_close;

LrnParams alexnet() { return LrnParams{}; }
// Even size: the window is asymmetric ([c-1, c+2]), so a backward that mirrors
// the window the wrong way fails; alpha large enough that the cross terms matter.
LrnParams strong_even() { return LrnParams{4, 0.9f, 0.75f, 1.5f}; }

struct NamedLrnCase {
  std::string name;
  LrnCase s;
};

std::vector<NamedLrnCase> lrn_cases() {
  return {{"alexnet_1x1x1x1", {1, 1, 1, 1, alexnet()}},
          {"alexnet_c3_below_window", {2, 3, 2, 3, alexnet()}},
          {"alexnet_c7_odd", {1, 7, 3, 5, alexnet()}},
          {"alexnet_more_than_a_block", {2, 16, 5, 5, alexnet()}},
          {"strong_even_c2", {1, 2, 3, 3, strong_even()}},
          {"strong_even_c9", {2, 9, 2, 5, strong_even()}}};
}

using LrnParam = std::tuple<Device, NamedLrnCase>;
class LrnTest : public testing::TestWithParam<LrnParam> {};

TEST_P(LrnTest, ForwardAndBackwardMatchReference) {
  const auto& [device, named] = GetParam();
  const LrnCase& s = named.s;
  const Shape shape{s.n, s.c, s.h, s.w};
  // Activations of a few units, so that alpha/size * sum x^2 is not negligible.
  const Tensor x = test::random_tensor(shape, device, 1, -3.0f, 3.0f);
  const Tensor dy = test::random_tensor(shape, device, 2);
  Tensor y(shape, device), scale(shape, device), dx(shape, device);
  ops::lrn_forward(x, y, scale, s.p);
  ops::lrn_backward(x, y, scale, dy, dx, s.p);
  const auto xd = to_double(x.to_vector()), dyd = to_double(dy.to_vector());
  EXPECT_TRUE(all_close(scale.to_vector(), reference::lrn_scale(s, xd), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(y.to_vector(), reference::lrn_forward(s, xd), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(dx.to_vector(), reference::lrn_backward(s, xd, dyd), 1e-6, 1e-5));
}

std::string lrn_param_name(const testing::TestParamInfo<LrnParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, LrnTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(lrn_cases())),
                         lrn_param_name);

TEST(LrnGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  for (const NamedLrnCase& named : lrn_cases()) {
    const LrnCase& s = named.s;
    const std::size_t n = static_cast<std::size_t>(s.n) * s.c * s.h * s.w;
    const auto x = to_double(test::random_vector(n, 3, -3.0f, 3.0f));
    const auto dy = to_double(test::random_vector(n, 4));
    const auto forward = [&](const std::vector<double>& at) { return reference::lrn_forward(s, at); };
    EXPECT_TRUE(reference::gradients_agree(reference::lrn_backward(s, x, dy),
                                           reference::numeric_gradient(forward, x, dy)))
        << named.name;
  }
}

TEST(LrnErrors, RejectsBadShapesAndParameters) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({1, 3, 2, 2}, cpu);
  Tensor y = Tensor::zeros({1, 3, 2, 2}, cpu), scale = Tensor::zeros({1, 3, 2, 2}, cpu);
  Tensor bad = Tensor::zeros({1, 3, 2, 3}, cpu);
  EXPECT_THROW(ops::lrn_forward(x, bad, scale, alexnet()), Error);
  EXPECT_THROW(ops::lrn_forward(x, y, bad, alexnet()), Error);
  EXPECT_THROW(ops::lrn_forward(x, y, scale, LrnParams{0, 1e-4f, 0.75f, 2.0f}), Error);
  EXPECT_THROW(ops::lrn_forward(x, y, scale, LrnParams{5, 1e-4f, 0.75f, 0.0f}), Error);
  const Tensor flat = Tensor::zeros({3, 4}, cpu);
  Tensor flat_y = Tensor::zeros({3, 4}, cpu), flat_s = Tensor::zeros({3, 4}, cpu);
  EXPECT_THROW(ops::lrn_forward(flat, flat_y, flat_s, alexnet()), Error);
}

}  // namespace
}  // namespace kiln
