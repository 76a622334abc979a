// Optimisers: fused update kernels on every device (kernels/optimizer.cu, cpu:
// src/cpu/optimizer.cpp). One step issues, per parameter, one update kernel; with
// clipping, first one sum-of-squares reduction per parameter into a device scalar
// and one kernel turning it into the clipping factor, which the updates read from
// device memory. Nothing is read back to the host.
//   sgd:  g' = c g + wd w;  m = mu m + g';  w -= lr m         (PyTorch SGD, dampening 0)
//   adam: g' = c g + wd w;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
//         w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)  (Kingma & Ba 2015, L2 decay)
// c = min(1, clip_norm / (||g||_2 + 1e-6)) over all parameters, or 1 without clipping.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/graph/layer.h"

namespace kiln::train {

enum class OptimizerKind { sgd, adam };
OptimizerKind parse_optimizer(const std::string& name);  // "sgd" | "adam"
const char* optimizer_name(OptimizerKind kind);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float clip_norm = 0.0f;  // 0: no clipping
};

// A state tensor of the optimiser, named "<param>.momentum", "<param>.exp_avg",
// "<param>.exp_avg_sq" for checkpoints.
struct StateTensor {
  std::string name;
  Tensor* tensor;
};

class Optimizer {
 public:
  Optimizer(const OptimizerConfig& config, std::vector<graph::Param*> params, Device device);

  // Applies one update with learning rate `lr` and counts the step.
  void step(float lr);
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  const OptimizerConfig& config() const { return config_; }
  std::vector<StateTensor> state();

  // Device scalar: sum of squares of every gradient (the global norm squared),
  // valid after a step with clipping, or after squared_norm_of_values().
  const Tensor& squared_norm() const { return sum_squares_; }
  // Sum of squares of all parameter values into squared_norm(): a device-side
  // finiteness check of the weights before a checkpoint.
  void squared_norm_of_values();

 private:
  void accumulate_squares(const Tensor& t);

  OptimizerConfig config_;
  std::vector<graph::Param*> params_;
  Device device_;
  std::vector<Tensor> first_, second_;  // momentum / Adam moments, one per parameter
  Tensor sum_squares_, scale_, workspace_;
  int64_t steps_ = 0;
};

}  // namespace kiln::train
