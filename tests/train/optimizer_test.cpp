// The fused optimiser updates (SGD momentum + L2 decay, Adam, global-norm
// clipping) on every device against the double-precision reference, over a few
// steps with fresh gradients each step.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/error.h"
#include "kiln/train/optimizer.h"
#include "kiln/train/schedule.h"
#include "reference/optimizer.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using train::Optimizer;
using train::OptimizerConfig;
using train::OptimizerKind;

struct Case {
  Device device;
  OptimizerKind kind;
  float clip_norm;  // 0: off; small values make clipping active
  std::vector<int64_t> sizes;  // one parameter per size (awkward, not multiples of 256)
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string name = test::device_name(c.device) + "_" + train::optimizer_name(c.kind);
  name += c.clip_norm > 0 ? "_clip" : "_noclip";
  for (int64_t n : c.sizes) name += "_" + std::to_string(n);
  return name;
}

class OptimizerTest : public testing::TestWithParam<Case> {};

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

TEST_P(OptimizerTest, MatchesReferenceOverSteps) {
  const Case& c = GetParam();
  OptimizerConfig config;
  config.kind = c.kind;
  config.momentum = 0.9f;
  config.weight_decay = 0.01f;
  config.clip_norm = c.clip_norm;
  const float lr = c.kind == OptimizerKind::adam ? 0.01f : 0.05f;

  std::vector<graph::Param> params(c.sizes.size());
  std::vector<reference::ParamState> ref(c.sizes.size());
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].name = "p" + std::to_string(i);
    params[i].value = test::random_tensor({c.sizes[i]}, c.device, 100 + i);
    params[i].grad = Tensor::zeros({c.sizes[i]}, c.device);
    ref[i].w = to_double(params[i].value.to_vector());
    ref[i].m.assign(c.sizes[i], 0.0);
    ref[i].v.assign(c.sizes[i], 0.0);
  }
  std::vector<graph::Param*> pointers;
  for (auto& p : params) pointers.push_back(&p);
  Optimizer opt(config, pointers, c.device);

  for (int step = 1; step <= 3; ++step) {
    std::vector<std::vector<double>> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].grad.copy_from(test::random_tensor({c.sizes[i]}, Device::cpu(), 1000 * step + i));
      grads.push_back(to_double(params[i].grad.to_vector()));
    }
    opt.step(lr);
    const double scale = reference::clip_factor(grads, c.clip_norm);
    if (c.clip_norm > 0) {
      ASSERT_LT(scale, 1.0) << "the test's clip norm should make clipping active";
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (c.kind == OptimizerKind::sgd) {
        reference::sgd_step(ref[i], grads[i], lr, config.momentum, config.weight_decay, scale);
      } else {
        reference::adam_step(ref[i], grads[i], lr, config.beta1, config.beta2, config.eps,
                             config.weight_decay, step, scale);
      }
    }
  }
  EXPECT_EQ(opt.steps(), 3);
  // float32 state over 3 steps: each element sees a handful of roundings (~1e-7
  // relative each) plus the float sum of squares for the clipping factor; 2e-5
  // absolute covers that with margin for values of order 1.
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(test::all_close(params[i].value.to_vector(), ref[i].w, 2e-5, 2e-5)) << params[i].name;
    auto state = opt.state();
    const std::vector<float> first = state[i * (c.kind == OptimizerKind::adam ? 2 : 1)].tensor->to_vector();
    EXPECT_TRUE(test::all_close(first, ref[i].m, 2e-5, 2e-5)) << params[i].name << " first moment";
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const Device& d : test::test_devices()) {
    for (OptimizerKind k : {OptimizerKind::sgd, OptimizerKind::adam}) {
      out.push_back({d, k, 0.0f, {1, 37}});
      out.push_back({d, k, 0.5f, {300, 5, 1}});
      if (!d.is_simt()) out.push_back({d, k, 2.0f, {70001, 33}});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Devices, OptimizerTest, testing::ValuesIn(cases()), case_name);

TEST(OptimizerConfig, RejectsBadSettingsClearly) {
  graph::Param p{"w", Tensor::zeros({3}, Device::cpu()), Tensor::zeros({3}, Device::cpu())};
  OptimizerConfig bad;
  bad.momentum = 1.5f;
  try {
    Optimizer(bad, {&p}, Device::cpu());
    FAIL() << "momentum 1.5 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("momentum"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train::parse_optimizer("rmsprop"), Error);
}

TEST(OptimizerNorm, SquaredNormOfValuesStaysOnDeviceAndSeesNaN) {
  for (const Device& d : test::test_devices()) {
    graph::Param p{"w", Tensor::from_vector({3.0f, 4.0f}, {2}, d), Tensor::zeros({2}, d)};
    graph::Param q{"b", Tensor::from_vector({12.0f}, {1}, d), Tensor::zeros({1}, d)};
    Optimizer opt({}, {&p, &q}, d);
    opt.squared_norm_of_values();
    EXPECT_EQ(opt.squared_norm().to_vector()[0], 169.0f) << d.str();
    q.value.copy_from(Tensor::from_vector({NAN}, {1}, Device::cpu()));
    opt.squared_norm_of_values();
    EXPECT_TRUE(std::isnan(opt.squared_norm().to_vector()[0])) << d.str();
  }
}

TEST(Schedule, ConstantStepCosine) {
  train::Schedule s;
  s.base_lr = 0.1f;
  EXPECT_FLOAT_EQ(s.at(500, 7), 0.1f);
  s.kind = train::ScheduleKind::step;
  s.step_epochs = 2;
  s.gamma = 0.5f;
  EXPECT_FLOAT_EQ(s.at(0, 1), 0.1f);
  EXPECT_FLOAT_EQ(s.at(0, 2), 0.05f);
  EXPECT_FLOAT_EQ(s.at(0, 5), 0.025f);
  s.kind = train::ScheduleKind::cosine;
  s.total_steps = 100;
  EXPECT_FLOAT_EQ(s.at(0, 0), 0.1f);
  EXPECT_NEAR(s.at(50, 0), 0.05f, 1e-7);
  EXPECT_NEAR(s.at(100, 0), 0.0f, 1e-9);
  EXPECT_THROW(train::parse_schedule("linear"), Error);
}

}  // namespace
}  // namespace kiln
