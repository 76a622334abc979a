// conv2d on every device and every kernel version against the double reference
// (tests/reference/conv2d.h), finite-difference checks of the reference's gradients,
// cuDNN vs native on a GPU, and the error messages for shapes that do not fit.
#include <gtest/gtest.h>

#include <omp.h>

#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "kiln/error.h"
#include "kiln/ops/conv2d.h"
#include "reference/conv2d.h"
#include "support/cpu_isa.h"
#include "support/op_test.h"

namespace kiln::test {
namespace {

struct ConvCase {
  std::string name;
  Shape x, w;
  Conv2dParams params;
  bool bias;
};

Conv2dParams make_params(int stride_h, int stride_w, int top, int bottom, int left, int right,
                         int dilation = 1, int groups = 1) {
  Conv2dParams p;
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  p.pad_top = top;
  p.pad_bottom = bottom;
  p.pad_left = left;
  p.pad_right = right;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  return p;
}

// Small (the emulator runs ~1 us per thread switch) but awkward shapes.
// wide_70_filters, filter_split_k, groups2_wide_stride2, strided_dilated_67_filters and
// the split_k cases make ConvKernel::automatic pick the implicit GEMM for at least one
// pass; the others keep it on the direct kernels. Split sums on cuda and simt
// (kernels/conv2d.cu, "Split rule"): forward split-K in the split_k cases;
// backward-data split-K there and in wide_70_filters (4 slices) and
// strided_dilated_67_filters (3); backward-filter split-K in filter_split_k (2 slices)
// and, forced, bias_split_3_filters (50); the bias gradient in bias_split_3_filters.
std::vector<ConvCase> conv_cases() {
  return {
      {"batch1_odd", {1, 3, 7, 5}, {4, 3, 3, 3}, make_params(1, 1, 1, 1, 1, 1), true},
      {"stride2x1_asym_pad", {2, 3, 9, 8}, {5, 3, 3, 2}, make_params(2, 1, 0, 2, 1, 0), true},
      {"stride3_kernel5x4", {2, 2, 11, 10}, {3, 2, 5, 4}, make_params(3, 3, 1, 1, 1, 1), false},
      {"pad_over_half_kernel", {1, 2, 5, 6}, {3, 2, 3, 3}, make_params(1, 1, 2, 2, 2, 2), true},
      {"groups2", {2, 4, 6, 7}, {6, 2, 3, 3}, make_params(1, 1, 1, 1, 1, 1, 1, 2), true},
      {"depthwise_stride2", {2, 5, 6, 5}, {5, 1, 3, 3}, make_params(2, 2, 1, 1, 1, 1, 1, 5),
       false},
      {"dilation2", {1, 3, 9, 9}, {4, 3, 3, 3}, make_params(1, 1, 2, 2, 2, 2, 2), true},
      {"kernel1x1", {2, 8, 5, 3}, {7, 8, 1, 1}, make_params(1, 1, 0, 0, 0, 0), true},
      {"same_even_kernel", {1, 2, 6, 7}, {3, 2, 4, 2}, Conv2dParams::same(4, 2), false},
      {"wide_70_filters", {2, 20, 6, 5}, {70, 20, 3, 3}, make_params(1, 1, 1, 1, 1, 1), true},
      {"filter_split_k", {3, 4, 10, 10}, {6, 4, 3, 3}, make_params(1, 1, 1, 1, 1, 1), true},
      {"groups2_wide_stride2", {1, 36, 5, 5}, {34, 18, 2, 2},
       make_params(2, 2, 0, 1, 0, 1, 1, 2), false},
      // Rows of three 16-float vectors in avx512 (five of 8 in avx2, ten of 4 in
      // baseline; the last one partial) and 11 filters: several filter, tap and
      // output-vector blocks in the CPU direct version.
      {"wide_rows_11_filters", {2, 3, 6, 37}, {11, 3, 3, 5}, make_params(1, 1, 1, 1, 2, 2), true},
      // 16-wide rows fill whole vectors in every variant, so the CPU direct version
      // keeps one row per vector; the narrower stride-1 cases above run it "flat"
      // (vectors spanning several rows).
      {"rows_of_whole_vectors", {2, 2, 5, 16}, {3, 2, 3, 3}, make_params(1, 1, 1, 1, 1, 1), true},
      // The implicit GEMM's edges: 67 filters (a 3-row second tile), 198 input pixels
      // (a 6-column fourth tile in backward-data), depths 126 and 402 (ending mid-step
      // after 8 double-buffered steps in forward, and in backward-data's 3 split-K slices of
      // 9, 9 and 8 steps; the tap digits carry on every step),
      // and strides 2 and 3 with dilation 2, which backward-data divides out.
      {"strided_dilated_67_filters", {2, 21, 9, 11}, {67, 21, 3, 2},
       make_params(2, 3, 1, 2, 0, 1, 2), true},
      // One 17x35 tile and depth 425 in forward and backward-data: split-K over 3
      // slices of 144, 144 and 137 depths (the last ending mid-step).
      {"split_k_17_channels", {1, 17, 5, 7}, {17, 17, 5, 5}, make_params(1, 1, 2, 2, 2, 2),
       true},
      // Per group, forward: 17 filters x 25 pixels, depth 400 (slices of 144, 144 and
      // 112); backward-data: 16 channels x 81 pixels (two tiles, one partial), depth 425
      // divided out of stride 2 (144, 144, 137); each group's slices their own blocks.
      {"split_k_groups2_stride2", {1, 32, 9, 9}, {34, 16, 5, 5},
       make_params(2, 2, 2, 2, 2, 2, 1, 2), true},
      // 3 channels of 6,400 values: the bias gradient sums each in 3 slices (2,134,
      // 2,134 and 2,132 values).
      {"bias_split_3_filters", {4, 1, 40, 40}, {3, 1, 3, 3}, make_params(1, 1, 1, 1, 1, 1),
       true},
  };
}

// Batches that fill the CPU direct version's lanes with samples (at least 4 packs of L
// samples, L = 16/8/4 floats in avx512/avx2/baseline, and enough FMAs per value moved
// into the lanes), the last pack partial: 53 = 3x16 + 5 = 6x8 + 5 = 13x4 + 1. Run on
// cpu only: the GPU kernels have no such layout, and these batches would cost the
// emulator half a minute.
std::vector<ConvCase> sample_lane_cases() {
  return {
      {"samples_across_lanes", {53, 8, 5, 6}, {24, 8, 5, 5}, make_params(1, 1, 2, 2, 2, 2), true},
      // Strided backward-data zero-inserts dy into the lanes (forced direct; avx512 takes
      // lanes there, avx2 and baseline fill theirs with rows).
      {"samples_across_lanes_stride2x1_groups2", {53, 16, 9, 8}, {32, 8, 5, 5},
       make_params(2, 1, 1, 2, 2, 1, 1, 2), true},
      {"samples_across_lanes_dilation2", {53, 16, 7, 7}, {32, 16, 3, 3},
       make_params(1, 1, 2, 2, 2, 2, 2), false},
  };
}

const char* kernel_name(ConvKernel kernel) {
  switch (kernel) {
    case ConvKernel::automatic: return "automatic";
    case ConvKernel::direct: return "direct";
    case ConvKernel::implicit_gemm: return "implicit_gemm";
  }
  return "unknown";
}

// Each output sums float products of values in [-1, 1]: a few hundred, up to 6,400 in
// bias_split_3_filters' backward-filter and bias gradient. Float rounding measured
// 2.0e-5 at worst on simt (|y| up to ~24), against 1e-4 + 1e-4 |y| allowed. Split sums
// reorder the additions (each slice summed, then the slices in order): a term then
// passes through at most slice + splits - 2 <= n - 1 additions, so the first-order
// rounding bound, (n - 1) eps sum |terms|, is no larger than for one running sum, and
// the measurements agree (split cases 1.8e-5 at worst, the unsplit direct kernels 2.0e-5).
constexpr double kAtol = 1e-4, kRtol = 1e-4;

using ConvParam = std::tuple<Device, cpu::Isa, ConvKernel, ConvCase>;

class Conv2dTest : public testing::TestWithParam<ConvParam> {
 protected:
  // The cpu cases run in the case's instruction-set variant.
  ScopedIsa isa_{std::get<1>(GetParam())};
  const Device& device() const { return std::get<0>(GetParam()); }
  ConvOptions options() const {
    ConvOptions o;
    o.kernel = std::get<2>(GetParam());
    return o;
  }
  const ConvCase& conv() const { return std::get<3>(GetParam()); }
  Conv2dGeometry geometry() const { return conv2d_geometry(conv().x, conv().w, conv().params); }
  Shape y_shape() const { return conv2d_output_shape(conv().x, conv().w, conv().params); }
};

TEST_P(Conv2dTest, ForwardMatchesReference) {
  const Conv2dGeometry g = geometry();
  const Tensor x = random_tensor(conv().x, device(), 1);
  const Tensor w = random_tensor(conv().w, device(), 2);
  const Tensor bias = random_tensor({g.k}, device(), 3);
  Tensor y(y_shape(), device());
  ops::conv2d_forward(x, w, conv().bias ? &bias : nullptr, y, conv().params, options());
  const std::vector<float> b = bias.to_vector();
  const std::vector<double> expected =
      reference::conv2d_forward(g, x.to_vector(), w.to_vector(), conv().bias ? &b : nullptr);
  EXPECT_TRUE(all_close(y.to_vector(), expected, kAtol, kRtol));
}

TEST_P(Conv2dTest, BackwardDataMatchesReference) {
  const Conv2dGeometry g = geometry();
  const Tensor dy = random_tensor(y_shape(), device(), 4);
  const Tensor w = random_tensor(conv().w, device(), 5);
  Tensor dx(conv().x, device());
  ops::conv2d_backward_data(dy, w, dx, conv().params, options());
  const std::vector<double> expected =
      reference::conv2d_backward_data(g, dy.to_vector(), w.to_vector());
  EXPECT_TRUE(all_close(dx.to_vector(), expected, kAtol, kRtol));
}

TEST_P(Conv2dTest, BackwardFilterMatchesReference) {
  const Conv2dGeometry g = geometry();
  const Tensor x = random_tensor(conv().x, device(), 6);
  const Tensor dy = random_tensor(y_shape(), device(), 7);
  Tensor dw(conv().w, device());
  ops::conv2d_backward_filter(x, dy, dw, conv().params, options());
  const std::vector<double> expected =
      reference::conv2d_backward_filter(g, x.to_vector(), dy.to_vector());
  EXPECT_TRUE(all_close(dw.to_vector(), expected, kAtol, kRtol));
}

TEST_P(Conv2dTest, BackwardBiasMatchesReference) {
  const Conv2dGeometry g = geometry();
  const Tensor dy = random_tensor(y_shape(), device(), 8);
  Tensor db({g.k}, device());
  ops::conv2d_backward_bias(dy, db, options());
  EXPECT_TRUE(all_close(db.to_vector(), reference::conv2d_backward_bias(g, dy.to_vector()), kAtol,
                        kRtol));
}

// Every device runs every version (on cpu, implicit_gemm is im2col + sgemm), cpu in
// every instruction-set variant the machine supports.
std::vector<ConvParam> conv_params() {
  std::vector<ConvParam> params;
  for (const auto& [device, isa] : devices_and_isas()) {
    for (ConvKernel kernel :
         {ConvKernel::automatic, ConvKernel::direct, ConvKernel::implicit_gemm}) {
      for (const ConvCase& c : conv_cases()) params.emplace_back(device, isa, kernel, c);
      if (!device.is_cpu()) continue;
      for (const ConvCase& c : sample_lane_cases()) params.emplace_back(device, isa, kernel, c);
    }
  }
  return params;
}

std::string conv_param_name(const testing::TestParamInfo<ConvParam>& info) {
  const auto& [device, isa, kernel, conv] = info.param;
  return device_isa_name(device_name(device), device, isa) + "_" + kernel_name(kernel) + "_" +
         conv.name;
}

INSTANTIATE_TEST_SUITE_P(Devices, Conv2dTest, testing::ValuesIn(conv_params()), conv_param_name);

// Both CPU backward-filter versions chunk the batch independently of the thread
// count, so one thread and several give bit-identical gradients (in each variant).
TEST(Conv2dCpuTest, BackwardFilterDoesNotDependOnThreadCount) {
  const Device cpu = Device::cpu();
  const Conv2dParams p = Conv2dParams::same(3, 3);
  const Tensor x = random_tensor({37, 3, 9, 8}, cpu, 31);
  const Tensor dy = random_tensor({37, 5, 9, 8}, cpu, 32);
  const int threads = omp_get_max_threads();
  for (cpu::Isa isa : cpu::supported_isas()) {
    ScopedIsa variant(isa);
    for (ConvKernel kernel : {ConvKernel::direct, ConvKernel::implicit_gemm}) {
      ConvOptions options;
      options.kernel = kernel;
      std::vector<std::vector<float>> results;
      for (int count : {1, 3}) {
        omp_set_num_threads(count);
        Tensor dw({5, 3, 3, 3}, cpu);
        ops::conv2d_backward_filter(x, dy, dw, p, options);
        results.push_back(dw.to_vector());
      }
      EXPECT_EQ(results[0], results[1]) << cpu::isa_name(isa) << " " << kernel_name(kernel);
    }
  }
  omp_set_num_threads(threads);
}

// Samples too large for one 256 KiB pack: the direct backward-filter carries its
// lane-wise sums across packs within a chunk (2-3 samples per chunk, 2 per pack).
TEST(Conv2dCpuTest, BackwardFilterAcrossSamplePacks) {
  const Device cpu = Device::cpu();
  const Conv2dParams p = Conv2dParams::same(3, 3);
  const Shape x_shape{40, 8, 48, 48}, w_shape{4, 8, 3, 3};
  const Conv2dGeometry g = conv2d_geometry(x_shape, w_shape, p);
  const Tensor x = random_tensor(x_shape, cpu, 41);
  const Tensor dy = random_tensor(conv2d_output_shape(x_shape, w_shape, p), cpu, 42);
  const std::vector<double> expected =
      reference::conv2d_backward_filter(g, x.to_vector(), dy.to_vector());
  for (cpu::Isa isa : cpu::supported_isas()) {
    ScopedIsa variant(isa);
    for (ConvKernel kernel : {ConvKernel::direct, ConvKernel::implicit_gemm}) {
      ConvOptions options;
      options.kernel = kernel;
      Tensor dw(w_shape, cpu);
      ops::conv2d_backward_filter(x, dy, dw, p, options);
      // Each weight sums 92,160 products of values in [-1, 1] (sums up to ~100): float
      // rounding measured 1.2e-4 at worst in both versions.
      EXPECT_TRUE(all_close(dw.to_vector(), expected, 1e-3, 0))
          << cpu::isa_name(isa) << " " << kernel_name(kernel);
    }
  }
}

// ---- finite differences of the reference -----------------------------------------------
// L = sum(y * dy) with y = conv(x, w) + bias. Central differences of the double
// reference forward must match its analytic backward (L is linear in each argument,
// so only rounding, ~1e-12, separates them); the devices' backward passes are
// checked against that backward above.

class Conv2dGradientTest : public testing::TestWithParam<ConvCase> {};

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Central difference of loss_of() for up to 64 evenly spaced elements of `param`
// (perturbed in place; each costs two reference forwards), compared with `analytic`.
void expect_central_differences(std::vector<double>& param, const std::vector<double>& analytic,
                                const std::function<double()>& loss_of, const char* what) {
  constexpr double kStep = 1e-3, kTolerance = 1e-7;
  ASSERT_EQ(param.size(), analytic.size());
  const size_t step = param.size() / 64 + 1;
  for (size_t i = 0; i < param.size(); i += step) {
    const double saved = param[i];
    param[i] = saved + kStep;
    const double up = loss_of();
    param[i] = saved - kStep;
    const double down = loss_of();
    param[i] = saved;
    EXPECT_NEAR((up - down) / (2 * kStep), analytic[i], kTolerance) << what << " element " << i;
  }
}

TEST_P(Conv2dGradientTest, ReferenceBackwardMatchesCentralDifferences) {
  const ConvCase& c = GetParam();
  const Conv2dGeometry g = conv2d_geometry(c.x, c.w, c.params);
  std::vector<double> x = to_double(random_vector(numel_of(c.x), 11));
  std::vector<double> w = to_double(random_vector(numel_of(c.w), 12));
  std::vector<double> bias = to_double(random_vector(g.k, 13));
  const std::vector<double> dy =
      to_double(random_vector(static_cast<size_t>(g.n) * g.k * g.p * g.q, 14));
  const std::function<double()> loss_of = [&] {
    const std::vector<double> y = reference::conv2d_forward(g, x, w, &bias);
    double sum = 0.0;
    for (size_t i = 0; i < y.size(); ++i) sum += y[i] * dy[i];
    return sum;
  };
  expect_central_differences(x, reference::conv2d_backward_data(g, dy, w), loss_of, "dx");
  expect_central_differences(w, reference::conv2d_backward_filter(g, x, dy), loss_of, "dw");
  expect_central_differences(bias, reference::conv2d_backward_bias(g, dy), loss_of, "db");
}

INSTANTIATE_TEST_SUITE_P(Cases, Conv2dGradientTest, testing::ValuesIn(conv_cases()),
                         [](const testing::TestParamInfo<ConvCase>& info) {
                           return "reference_" + info.param.name;
                         });

// ---- cuDNN vs native (GPU only) ---------------------------------------------------------

TEST(Conv2dCudnnTest, MatchesNativeKernelsOnGpu) {
  KILN_REQUIRE_GPU();
  const Device gpu = Device::cuda(0);
  for (const ConvCase& c : conv_cases()) {
    const Conv2dParams& p = c.params;
    if (p.pad_top != p.pad_bottom || p.pad_left != p.pad_right) continue;  // legacy API
    for (bool deterministic : {false, true}) {
      SCOPED_TRACE(c.name + (deterministic ? " deterministic" : ""));
      ConvOptions cudnn;
      cudnn.engine = Engine::cudnn;
      cudnn.deterministic = deterministic;
      const ConvOptions native;
      const Conv2dGeometry g = conv2d_geometry(c.x, c.w, p);
      const Shape y_shape{g.n, g.k, g.p, g.q};
      const Tensor x = random_tensor(c.x, gpu, 21), w = random_tensor(c.w, gpu, 22);
      const Tensor bias = random_tensor({g.k}, gpu, 23), dy = random_tensor(y_shape, gpu, 24);
      Tensor y_cudnn(y_shape, gpu), y_native(y_shape, gpu);
      ops::conv2d_forward(x, w, &bias, y_cudnn, p, cudnn);
      ops::conv2d_forward(x, w, &bias, y_native, p, native);
      EXPECT_TRUE(all_close(y_cudnn.to_vector(), y_native.to_vector(), kAtol, kRtol));
      Tensor dx_cudnn(c.x, gpu), dx_native(c.x, gpu);
      ops::conv2d_backward_data(dy, w, dx_cudnn, p, cudnn);
      ops::conv2d_backward_data(dy, w, dx_native, p, native);
      EXPECT_TRUE(all_close(dx_cudnn.to_vector(), dx_native.to_vector(), kAtol, kRtol));
      Tensor dw_cudnn(c.w, gpu), dw_native(c.w, gpu);
      ops::conv2d_backward_filter(x, dy, dw_cudnn, p, cudnn);
      ops::conv2d_backward_filter(x, dy, dw_native, p, native);
      EXPECT_TRUE(all_close(dw_cudnn.to_vector(), dw_native.to_vector(), kAtol, kRtol));
      Tensor db_cudnn({g.k}, gpu), db_native({g.k}, gpu);
      ops::conv2d_backward_bias(dy, db_cudnn, cudnn);
      ops::conv2d_backward_bias(dy, db_native, native);
      EXPECT_TRUE(all_close(db_cudnn.to_vector(), db_native.to_vector(), kAtol, kRtol));
    }
  }
}

TEST(Conv2dCudnnTest, RejectsAsymmetricPaddingOnGpu) {
  KILN_REQUIRE_GPU();
  const Device gpu = Device::cuda(0);
  const Conv2dParams p = Conv2dParams::same(4, 4);
  const Tensor x = random_tensor({1, 2, 6, 6}, gpu, 1), w = random_tensor({3, 2, 4, 4}, gpu, 2);
  Tensor y(conv2d_output_shape(x.shape(), w.shape(), p), gpu);
  ConvOptions cudnn;
  cudnn.engine = Engine::cudnn;
  const std::string message = error_of([&] { ops::conv2d_forward(x, w, nullptr, y, p, cudnn); });
  EXPECT_NE(message.find("symmetric padding"), std::string::npos) << message;
}

// ---- errors -----------------------------------------------------------------------------

TEST(Conv2dErrorTest, ChannelMismatchNamesBothShapes) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({2, 3, 5, 5}, cpu), w = Tensor::zeros({4, 2, 3, 3}, cpu);
  Tensor y = Tensor::zeros({2, 4, 3, 3}, cpu);
  const std::string message = error_of([&] { ops::conv2d_forward(x, w, nullptr, y, {}); });
  EXPECT_NE(message.find("[2, 3, 5, 5]"), std::string::npos) << message;
  EXPECT_NE(message.find("[4, 2, 3, 3]"), std::string::npos) << message;
}

TEST(Conv2dErrorTest, WrongOutputAndBiasShapesAreNamed) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({2, 3, 5, 5}, cpu), w = Tensor::zeros({4, 3, 3, 3}, cpu);
  Tensor y = Tensor::zeros({2, 4, 5, 5}, cpu);
  std::string message = error_of([&] { ops::conv2d_forward(x, w, nullptr, y, {}); });
  EXPECT_NE(message.find("[2, 4, 5, 5]"), std::string::npos) << message;
  EXPECT_NE(message.find("[2, 4, 3, 3]"), std::string::npos) << message;
  Tensor y_ok = Tensor::zeros({2, 4, 3, 3}, cpu);
  const Tensor bias = Tensor::zeros({3}, cpu);
  message = error_of([&] { ops::conv2d_forward(x, w, &bias, y_ok, {}); });
  EXPECT_NE(message.find("bias has shape [3]"), std::string::npos) << message;
  Tensor dx = Tensor::zeros({2, 3, 5, 5}, cpu);
  message = error_of([&] { ops::conv2d_backward_data(y, w, dx, {}); });
  EXPECT_NE(message.find("dy has shape [2, 4, 5, 5]"), std::string::npos) << message;
}

TEST(Conv2dErrorTest, GroupsAndKernelSizeAreChecked) {
  const Shape x{1, 6, 4, 4};
  Conv2dParams groups4;
  groups4.groups = 4;
  std::string message = error_of([&] { conv2d_geometry(x, {8, 2, 3, 3}, groups4); });
  EXPECT_NE(message.find("divide by groups 4"), std::string::npos) << message;
  message = error_of([&] { conv2d_geometry(x, {8, 6, 5, 5}, {}); });
  EXPECT_NE(message.find("kernel spans 5x5"), std::string::npos) << message;
}

TEST(Conv2dErrorTest, CudnnEngineIsRefusedOffGpu) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({1, 1, 3, 3}, cpu), w = Tensor::zeros({1, 1, 3, 3}, cpu);
  Tensor y = Tensor::zeros({1, 1, 1, 1}, cpu);
  ConvOptions cudnn;
  cudnn.engine = Engine::cudnn;
  const std::string message = error_of([&] { ops::conv2d_forward(x, w, nullptr, y, {}, cudnn); });
  EXPECT_NE(message.find("engine cudnn runs only on a cuda device"), std::string::npos) << message;
}

}  // namespace
}  // namespace kiln::test
