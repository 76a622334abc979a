// Max and average pooling on every device against the naive reference, tie rules,
// gradient checks, the cuDNN path (GPU only) and argument errors.
#include "kiln/ops/pool2d.h"

#include <cmath>
#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/gradient_check.h"
#include "reference/pool2d.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::PoolCase;
using reference::to_double;
using test::all_close;

struct NamedPoolCase {
  std::string name;
  PoolCase s;
};

Pool2dParams params(int kh, int kw, int sh, int sw, int ph, int pw) {
  Pool2dParams p;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  return p;
}

std::vector<NamedPoolCase> pool_cases() {
  return {
      {"lenet_2x2s2", {2, 3, 8, 8, params(2, 2, 2, 2, 0, 0)}},
      {"alexnet_3x3s2_odd", {1, 2, 7, 9, params(3, 3, 2, 2, 0, 0)}},
      {"3x3s2_pad1", {2, 1, 5, 6, params(3, 3, 2, 2, 1, 1)}},
      {"3x3s1_pad1_narrow", {1, 2, 5, 3, params(3, 3, 1, 1, 1, 1)}},
      {"rect_2x3_s1x2_padh", {1, 1, 4, 7, params(2, 3, 1, 2, 1, 0)}},
      {"batch1_odd_3x3s2", {1, 1, 11, 13, params(3, 3, 2, 2, 0, 0)}},
      {"more_than_a_block", {2, 5, 13, 13, params(3, 3, 2, 2, 1, 1)}},
      {"stride_above_kernel", {1, 2, 9, 9, params(2, 2, 3, 3, 0, 0)}},
      {"3x3s3_tiling", {2, 2, 9, 12, params(3, 3, 3, 3, 0, 0)}},
      {"2x2s2_tiling_four_and_one", {2, 2, 6, 10, params(2, 2, 2, 2, 0, 0)}},
      {"2x2s2_leftover_row", {1, 2, 7, 8, params(2, 2, 2, 2, 0, 0)}},
  };
}

Shape x_shape(const PoolCase& s) { return {s.n, s.c, s.h, s.w}; }
Shape y_shape(const PoolCase& s) { return {s.n, s.c, s.oh(), s.ow()}; }

using PoolParam = std::tuple<Device, PoolMode, NamedPoolCase>;

class Pool2dTest : public testing::TestWithParam<PoolParam> {};

TEST_P(Pool2dTest, ForwardAndBackwardMatchReference) {
  const auto& [device, mode, named] = GetParam();
  const PoolCase& s = named.s;
  const Tensor x = test::random_tensor(x_shape(s), device, 11);
  const Tensor dy = test::random_tensor(y_shape(s), device, 12);
  // dx starts non-zero: backward must write every element, covered by a window or not.
  Tensor y(y_shape(s), device), dx = Tensor::full(x_shape(s), 7.0f, device);
  ASSERT_EQ(pool2d_output_shape(x.shape(), s.p), y.shape());
  ops::pool2d_forward(mode, x, y, s.p);
  ops::pool2d_backward(mode, x, y, dy, dx, s.p);

  const std::vector<double> xd = to_double(x.to_vector()), dyd = to_double(dy.to_vector());
  EXPECT_TRUE(all_close(y.to_vector(), reference::pool2d_forward(mode, s, xd), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(dx.to_vector(), reference::pool2d_backward(mode, s, xd, dyd), 1e-6, 1e-5));
}

// Constant input: every window ties everywhere, so each window's first in-bounds
// element (row-major) wins and receives the window's whole gradient.
using TieParam = std::tuple<Device, NamedPoolCase>;

class MaxPoolTieTest : public testing::TestWithParam<TieParam> {};

TEST_P(MaxPoolTieTest, TiesGoToTheFirstElementOfTheWindow) {
  const auto& [device, named] = GetParam();
  const PoolMode mode = PoolMode::max;
  const PoolCase& s = named.s;
  const Tensor x = Tensor::full(x_shape(s), 0.5f, device);
  const Tensor dy = test::random_tensor(y_shape(s), device, 13);
  Tensor y(y_shape(s), device), dx = Tensor::full(x_shape(s), 7.0f, device);
  ops::pool2d_forward(mode, x, y, s.p);
  ops::pool2d_backward(mode, x, y, dy, dx, s.p);
  EXPECT_TRUE(all_close(y.to_vector(), std::vector<float>(y.numel(), 0.5f), 0, 0));

  std::vector<double> expected(x.numel(), 0.0);
  const std::vector<float> dyv = dy.to_vector();
  const int oh = s.oh(), ow = s.ow();
  for (int plane = 0; plane < s.n * s.c; ++plane) {
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        const int iy = std::max(oy * s.p.stride_h - s.p.pad_h, 0);
        const int ix = std::max(ox * s.p.stride_w - s.p.pad_w, 0);
        expected[(plane * s.h + iy) * s.w + ix] += dyv[(plane * oh + oy) * ow + ox];
      }
    }
  }
  EXPECT_TRUE(all_close(dx.to_vector(), expected, 1e-6, 1e-6));
}

// Inputs of three values (as post-ReLU data has runs of zeros): most windows tie, in
// every arrangement; the first maximum in row-major order takes the gradient.
TEST_P(MaxPoolTieTest, ManyTiesMatchTheReference) {
  const auto& [device, named] = GetParam();
  const PoolCase& s = named.s;
  std::vector<float> xv = test::random_vector(s.n * s.c * s.h * s.w, 16);
  for (float& v : xv) v = std::floor((v + 1.0f) * 1.5f) * 0.5f;  // 0, 0.5 or 1
  const Tensor x = Tensor::from_vector(xv, x_shape(s), device);
  const Tensor dy = test::random_tensor(y_shape(s), device, 17);
  Tensor y(y_shape(s), device), dx = Tensor::full(x_shape(s), 7.0f, device);
  ops::pool2d_forward(PoolMode::max, x, y, s.p);
  ops::pool2d_backward(PoolMode::max, x, y, dy, dx, s.p);
  const std::vector<double> xd = to_double(xv), dyd = to_double(dy.to_vector());
  EXPECT_TRUE(all_close(y.to_vector(), reference::pool2d_forward(PoolMode::max, s, xd), 0, 0));
  EXPECT_TRUE(all_close(dx.to_vector(), reference::pool2d_backward(PoolMode::max, s, xd, dyd),
                        1e-6, 1e-6));
}

// A window whose first element is NaN keeps NaN as its maximum (the forward's strict >
// never replaces it), and that element takes the window's gradient; a NaN later in a
// window is passed over. Every window of plane 0 starts with NaN, plane 1's windows
// have NaN second. The reference follows the same rule.
TEST_P(MaxPoolTieTest, NaNInAWindowFollowsTheForward) {
  const auto& [device, named] = GetParam();
  const PoolCase& s = named.s;
  if (s.p.pad_h || s.p.pad_w || s.n * s.c < 2) GTEST_SKIP() << "needs unpadded windows, 2 planes";
  std::vector<float> xv = test::random_vector(s.n * s.c * s.h * s.w, 14);
  const int oh = s.oh(), ow = s.ow();
  auto first_of = [&](int oy, int ox) { return oy * s.p.stride_h * s.w + ox * s.p.stride_w; };
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox) {
      xv[first_of(oy, ox)] = std::nanf("");
      xv[s.h * s.w + first_of(oy, ox) + 1] = std::nanf("");
    }
  const Tensor x = Tensor::from_vector(xv, x_shape(s), device);
  const Tensor dy = test::random_tensor(y_shape(s), device, 15);
  Tensor y(y_shape(s), device), dx = Tensor::full(x_shape(s), 7.0f, device);
  ops::pool2d_forward(PoolMode::max, x, y, s.p);
  ops::pool2d_backward(PoolMode::max, x, y, dy, dx, s.p);
  const std::vector<float> yv = y.to_vector(), dyv = dy.to_vector(), dxv = dx.to_vector();
  const std::vector<double> expected_dx =
      reference::pool2d_backward(PoolMode::max, s, to_double(xv), to_double(dyv));
  for (int o = 0; o < oh * ow; ++o) {
    EXPECT_TRUE(std::isnan(yv[o])) << "plane 0, output " << o;
    EXPECT_FALSE(std::isnan(yv[oh * ow + o])) << "plane 1, output " << o;
    const int first = first_of(o / ow, o % ow);
    EXPECT_EQ(dxv[first], dyv[o]) << "plane 0, output " << o;
  }
  EXPECT_TRUE(all_close(dxv, expected_dx, 1e-6, 1e-6));
}

std::string pool_param_name(const testing::TestParamInfo<PoolParam>& info) {
  const auto& [device, mode, named] = info.param;
  return test::device_name(device) + (mode == PoolMode::max ? "_max_" : "_avg_") + named.name;
}

std::string tie_param_name(const testing::TestParamInfo<TieParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, MaxPoolTieTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(pool_cases())),
                         tie_param_name);

INSTANTIATE_TEST_SUITE_P(Devices, Pool2dTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::Values(PoolMode::max, PoolMode::avg),
                                          testing::ValuesIn(pool_cases())),
                         pool_param_name);

// The reference backward against central differences of the reference forward
// (random inputs have no ties, so max pooling is differentiable there).
TEST(Pool2dGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  for (const NamedPoolCase& named : pool_cases()) {
    const PoolCase& s = named.s;
    const std::vector<double> x = to_double(test::random_vector(s.n * s.c * s.h * s.w, 21));
    const std::vector<double> dy = to_double(test::random_vector(reference::output_count(s), 22));
    for (PoolMode mode : {PoolMode::max, PoolMode::avg}) {
      const auto forward = [&](const std::vector<double>& at) {
        return reference::pool2d_forward(mode, s, at);
      };
      EXPECT_TRUE(reference::gradients_agree(reference::pool2d_backward(mode, s, x, dy),
                                             reference::numeric_gradient(forward, x, dy)))
          << named.name << (mode == PoolMode::max ? " max" : " avg");
    }
  }
}

// cuDNN and the native kernels agree on a GPU (random data: no ties, whose
// resolution by cuDNN is not documented).
TEST(Pool2dCudnn, MatchesNativeKernels) {
  KILN_REQUIRE_GPU();
  const Device gpu = Device::cuda(0);
  for (const NamedPoolCase& named : pool_cases()) {
    const PoolCase& s = named.s;
    for (PoolMode mode : {PoolMode::max, PoolMode::avg}) {
      const Tensor x = test::random_tensor(x_shape(s), gpu, 31);
      const Tensor dy = test::random_tensor(y_shape(s), gpu, 32);
      Tensor y_native(y_shape(s), gpu), y_cudnn(y_shape(s), gpu);
      Tensor dx_native(x_shape(s), gpu), dx_cudnn(x_shape(s), gpu);
      ops::pool2d_forward(mode, x, y_native, s.p, Engine::native);
      ops::pool2d_forward(mode, x, y_cudnn, s.p, Engine::cudnn);
      ops::pool2d_backward(mode, x, y_native, dy, dx_native, s.p, Engine::native);
      ops::pool2d_backward(mode, x, y_cudnn, dy, dx_cudnn, s.p, Engine::cudnn);
      EXPECT_TRUE(all_close(y_cudnn.to_vector(), y_native.to_vector(), 1e-6, 1e-5)) << named.name;
      EXPECT_TRUE(all_close(dx_cudnn.to_vector(), dx_native.to_vector(), 1e-6, 1e-5)) << named.name;
    }
  }
}

TEST(Pool2dErrors, RejectsBadShapesAndParameters) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({1, 1, 4, 4}, cpu);
  Tensor y = Tensor::zeros({1, 1, 2, 2}, cpu);
  Tensor wrong = Tensor::zeros({1, 1, 3, 3}, cpu);
  EXPECT_THROW(ops::pool2d_forward(PoolMode::max, x, wrong, params(2, 2, 2, 2, 0, 0)), Error);
  EXPECT_THROW(ops::pool2d_forward(PoolMode::max, x, y, params(2, 2, 0, 2, 0, 0)), Error);
  EXPECT_THROW(ops::pool2d_forward(PoolMode::avg, x, y, params(2, 2, 2, 2, 2, 0)), Error);
  EXPECT_THROW(pool2d_output_shape({1, 1, 2, 2}, params(3, 3, 1, 1, 0, 0)), Error);
  const Tensor flat = Tensor::zeros({4, 4}, cpu);
  EXPECT_THROW(ops::pool2d_forward(PoolMode::max, flat, y, params(2, 2, 2, 2, 0, 0)), Error);
  EXPECT_THROW(ops::pool2d_forward(PoolMode::max, x, y, params(2, 2, 2, 2, 0, 0), Engine::cudnn),
               Error);
  Tensor dx_wrong = Tensor::zeros({1, 1, 4, 5}, cpu);
  EXPECT_THROW(ops::pool2d_backward(PoolMode::max, x, y, y, dx_wrong, params(2, 2, 2, 2, 0, 0)),
               Error);
}

}  // namespace
}  // namespace kiln
