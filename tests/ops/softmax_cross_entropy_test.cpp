// Fused softmax cross-entropy and count_correct on every device against the naive
// reference: C not a multiple of 32, ignored and all-ignored rows, ties, gradient
// check and argument errors.
#include "kiln/ops/softmax_cross_entropy.h"

#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/gradient_check.h"
#include "reference/softmax_cross_entropy.h"
#include "support/cpu_isa.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::to_double;
using reference::XentCase;
using test::all_close;

constexpr int kIgnore = -100;

struct NamedXentCase {
  std::string name;
  XentCase s;
  int ignore_every;  // every k-th row is ignored (0: none, 1: all)
};

std::vector<NamedXentCase> xent_cases() {
  return {{"1x1", {1, 1}, 0},
          {"lenet_64x10", {64, 10}, 0},
          {"c37_some_ignored", {5, 37}, 2},
          {"c70_over_two_warps", {9, 70}, 3},
          {"all_ignored", {4, 10}, 1},
          {"rows_over_a_block", {19, 3}, 4},
          {"brown_lm_vocabulary", {3, 13191}, 0}};
}

std::vector<float> labels_for(const NamedXentCase& c) {
  std::vector<float> labels(c.s.rows);
  const std::vector<float> u = test::random_vector(c.s.rows, 9, 0.0f, 1.0f);
  for (int r = 0; r < c.s.rows; ++r) {
    const bool ignored = c.ignore_every > 0 && r % c.ignore_every == 0;
    labels[r] = ignored ? kIgnore : static_cast<float>(static_cast<int>(u[r] * c.s.classes));
  }
  return labels;
}

// On cpu, once per instruction-set variant the machine supports (the row loops are
// compiled per variant).
using XentParam = std::tuple<Device, cpu::Isa, NamedXentCase>;
class SoftmaxXentTest : public testing::TestWithParam<XentParam> {
 protected:
  test::ScopedIsa isa_{std::get<1>(GetParam())};
};

TEST_P(SoftmaxXentTest, LossGradientAndAccuracyMatchReference) {
  const auto& [device, isa, named] = GetParam();
  const XentCase& s = named.s;
  // Logits up to +-30: exp() overflows in float without the max subtraction.
  const Tensor logits = test::random_tensor({s.rows, s.classes}, device, 1, -30.0f, 30.0f);
  const std::vector<float> labels_host = labels_for(named);
  const Tensor labels = Tensor::from_vector(labels_host, {s.rows}, device);
  Tensor probs({s.rows, s.classes}, device), loss({1}, device), grad({s.rows, s.classes}, device);
  Tensor correct = Tensor::full({1}, 3.0f, device);  // accumulates
  ops::softmax_cross_entropy_forward(logits, labels, probs, loss, kIgnore);
  ops::softmax_cross_entropy_backward(probs, labels, grad, kIgnore);
  ops::count_correct(logits, labels, correct, kIgnore);

  const auto ld = to_double(logits.to_vector());
  EXPECT_TRUE(all_close(probs.to_vector(), reference::softmax(s, ld), 1e-6, 1e-4));
  EXPECT_TRUE(all_close(loss.to_vector(),
                        std::vector<double>{reference::xent_loss(s, ld, labels_host, kIgnore)},
                        1e-5, 1e-5));
  EXPECT_TRUE(all_close(grad.to_vector(), reference::xent_backward(s, ld, labels_host, kIgnore),
                        1e-6, 1e-4));
  EXPECT_EQ(correct.to_vector()[0], 3 + reference::count_correct(s, ld, labels_host, kIgnore));
}

TEST_P(SoftmaxXentTest, FirstMaximumWinsTies) {
  const Device& device = std::get<0>(GetParam());
  // Row 0: all equal (class 0 wins); row 1: classes 2 and 5 tie at the top (2 wins).
  std::vector<float> logits(2 * 7, 1.0f);
  logits[7 + 2] = logits[7 + 5] = 4.0f;
  const Tensor x = Tensor::from_vector(logits, {2, 7}, device);
  Tensor correct = Tensor::zeros({1}, device);
  ops::count_correct(x, Tensor::from_vector({0.0f, 2.0f}, {2}, device), correct);
  EXPECT_EQ(correct.to_vector()[0], 2.0f);
  ops::count_correct(x, Tensor::from_vector({1.0f, 5.0f}, {2}, device), correct);
  EXPECT_EQ(correct.to_vector()[0], 2.0f);
}

std::vector<XentParam> xent_params() {
  std::vector<XentParam> params;
  for (const auto& [device, isa] : test::devices_and_isas()) {
    for (const NamedXentCase& c : xent_cases()) params.emplace_back(device, isa, c);
  }
  return params;
}

std::string xent_param_name(const testing::TestParamInfo<XentParam>& info) {
  const auto& [device, isa, c] = info.param;
  return test::device_isa_name(test::device_name(device), device, isa) + "_" + c.name;
}

INSTANTIATE_TEST_SUITE_P(Devices, SoftmaxXentTest, testing::ValuesIn(xent_params()),
                         xent_param_name);

TEST(SoftmaxXentGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  for (const NamedXentCase& named : xent_cases()) {
    const XentCase& s = named.s;
    if (s.rows * s.classes > 1000) continue;  // one loss per element: the small cases suffice
    const auto x = to_double(test::random_vector(s.rows * s.classes, 5, -3.0f, 3.0f));
    const std::vector<float> labels = labels_for(named);
    const auto loss = [&](const std::vector<double>& at) {
      return std::vector<double>{reference::xent_loss(s, at, labels, kIgnore)};
    };
    EXPECT_TRUE(reference::gradients_agree(reference::xent_backward(s, x, labels, kIgnore),
                                           reference::numeric_gradient(loss, x, {1.0})))
        << named.name;
  }
}

TEST(SoftmaxXentErrors, RejectsBadShapes) {
  const Device cpu = Device::cpu();
  const Tensor logits = Tensor::zeros({3, 4}, cpu), labels = Tensor::zeros({3}, cpu);
  const Tensor labels_bad = Tensor::zeros({4}, cpu);
  Tensor probs = Tensor::zeros({3, 4}, cpu), loss = Tensor::zeros({1}, cpu);
  Tensor probs_bad = Tensor::zeros({3, 5}, cpu), loss_bad = Tensor::zeros({2}, cpu);
  EXPECT_THROW(ops::softmax_cross_entropy_forward(logits, labels_bad, probs, loss), Error);
  EXPECT_THROW(ops::softmax_cross_entropy_forward(logits, labels, probs_bad, loss), Error);
  EXPECT_THROW(ops::softmax_cross_entropy_forward(logits, labels, probs, loss_bad), Error);
  EXPECT_THROW(ops::softmax_cross_entropy_backward(probs, labels, probs_bad), Error);
  EXPECT_THROW(ops::count_correct(logits, labels_bad, loss), Error);
}

// A label that is neither ignore_index nor a class id poisons the loss (NaN) on
// every device instead of reading out of bounds.
TEST(SoftmaxXentErrors, InvalidLabelGivesNaNLoss) {
  for (const Device& device : test::test_devices()) {
    const Tensor logits = test::random_tensor({2, 4}, device, 1);
    const Tensor labels = Tensor::from_vector({1.0f, 7.0f}, {2}, device);
    Tensor probs({2, 4}, device), loss({1}, device);
    ops::softmax_cross_entropy_forward(logits, labels, probs, loss);
    EXPECT_TRUE(std::isnan(loss.to_vector()[0])) << device.str();
  }
}

// Logits far below the row's maximum underflow to probability 0 (the cpu exp is a
// polynomial clamped at -87), and a NaN logit makes the loss NaN, on every device.
TEST(SoftmaxXentExtremes, UnderflowGivesZeroAndNaNPropagates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& [device, isa] : test::devices_and_isas()) {
    test::ScopedIsa variant(isa);
    const Tensor logits = Tensor::from_vector({0.0f, -86.0f, -88.0f, -1e30f, 2.0f, nan},
                                              {2, 3}, device);
    const Tensor labels = Tensor::from_vector({0.0f, 0.0f}, {2}, device);
    Tensor probs({2, 3}, device), loss({1}, device);
    ops::softmax_cross_entropy_forward(logits, labels, probs, loss);
    const std::vector<float> p = probs.to_vector();
    const std::string where = device.str() + " " + cpu::isa_name(isa);
    EXPECT_FLOAT_EQ(p[0], 1.0f) << where;
    EXPECT_NEAR(p[1], std::exp(-86.0), 1e-40) << where;
    EXPECT_LT(p[2], 1e-37f) << where;
    EXPECT_TRUE(std::isnan(loss.to_vector()[0])) << where;
  }
}

}  // namespace
}  // namespace kiln
