#include "kiln/train/optimizer.h"

#include <cmath>

#include "cpu/optimizer.h"
#include "kiln/error.h"
#include "kiln/ops/elementwise.h"
#include "ops/kernels.h"

namespace kiln::train {

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "adam") return OptimizerKind::adam;
  throw Error("unknown optimizer '" + name + "': expected sgd or adam");
}

const char* optimizer_name(OptimizerKind kind) {
  return kind == OptimizerKind::adam ? "adam" : "sgd";
}

Optimizer::Optimizer(const OptimizerConfig& config, std::vector<graph::Param*> params,
                     Device device)
    : config_(config), params_(std::move(params)), device_(device) {
  KILN_CHECK(config.momentum >= 0.0f && config.momentum < 1.0f,
             "momentum must be in [0, 1), got ", config.momentum);
  KILN_CHECK(config.weight_decay >= 0.0f, "weight decay must be >= 0, got ", config.weight_decay);
  KILN_CHECK(config.beta1 >= 0.0f && config.beta1 < 1.0f && config.beta2 >= 0.0f &&
                 config.beta2 < 1.0f,
             "Adam betas must be in [0, 1), got ", config.beta1, " and ", config.beta2);
  KILN_CHECK(config.clip_norm >= 0.0f, "the clipping norm must be >= 0 (0 = off), got ",
             config.clip_norm);
  for (graph::Param* p : params_) {
    KILN_CHECK(p->value.device() == device, "parameter '", p->name, "' is on ",
               p->value.device().str(), ", the optimizer on ", device.str());
    first_.push_back(Tensor::zeros(p->value.shape(), device));
    if (config.kind == OptimizerKind::adam) second_.push_back(Tensor::zeros(p->value.shape(), device));
  }
  sum_squares_ = Tensor::zeros({1}, device);
  scale_ = Tensor::zeros({1}, device);
  workspace_ = Tensor({simt_kernels::kSumWorkspaceFloats}, device);
}

void Optimizer::accumulate_squares(const Tensor& t) {
  if (device_.is_cpu()) return cpu::sum_squares_accumulate(t.data(), t.numel(), sum_squares_.data());
  KILN_KERNEL(device_, sum_squares_accumulate, t.data(), t.numel(), workspace_.data(),
              sum_squares_.data());
}

void Optimizer::squared_norm_of_values() {
  ops::fill(sum_squares_, 0.0f);
  for (graph::Param* p : params_) accumulate_squares(p->value);
}

void Optimizer::step(float lr) {
  const float* scale = nullptr;
  if (config_.clip_norm > 0.0f) {
    ops::fill(sum_squares_, 0.0f);
    for (graph::Param* p : params_) accumulate_squares(p->grad);
    if (device_.is_cpu()) {
      cpu::clip_scale(sum_squares_.data(), config_.clip_norm, scale_.data());
    } else {
      KILN_KERNEL(device_, clip_scale, sum_squares_.data(), config_.clip_norm, scale_.data());
    }
    scale = scale_.data();
  }
  ++steps_;
  // Bias corrections in double on the host from the step count (no device read).
  const auto t = static_cast<double>(steps_);
  const auto bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(config_.beta1), t));
  const auto bias2 = static_cast<float>(1.0 - std::pow(static_cast<double>(config_.beta2), t));
  const OptimizerConfig& c = config_;
  for (size_t i = 0; i < params_.size(); ++i) {
    float* w = params_[i]->value.data();
    const float* g = params_[i]->grad.data();
    const int64_t n = params_[i]->value.numel();
    float* m = first_[i].data();
    if (c.kind == OptimizerKind::sgd) {
      if (device_.is_cpu()) {
        cpu::sgd_update(w, g, m, n, lr, c.momentum, c.weight_decay, scale);
      } else {
        KILN_KERNEL(device_, sgd_update, w, g, m, n, lr, c.momentum, c.weight_decay, scale);
      }
    } else {
      float* v = second_[i].data();
      if (device_.is_cpu()) {
        cpu::adam_update(w, g, m, v, n, lr, c.beta1, c.beta2, c.eps, c.weight_decay, bias1, bias2,
                         scale);
      } else {
        KILN_KERNEL(device_, adam_update, w, g, m, v, n, lr, c.beta1, c.beta2, c.eps,
                    c.weight_decay, bias1, bias2, scale);
      }
    }
  }
}

std::vector<StateTensor> Optimizer::state() {
  std::vector<StateTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (config_.kind == OptimizerKind::sgd) {
      out.push_back({params_[i]->name + ".momentum", &first_[i]});
    } else {
      out.push_back({params_[i]->name + ".exp_avg", &first_[i]});
      out.push_back({params_[i]->name + ".exp_avg_sq", &second_[i]});
    }
  }
  return out;
}

}  // namespace kiln::train
