// Learning-rate schedules, evaluated on the host once per step (the value is
// passed to the update kernels as an argument).
//   constant  lr
//   step      lr * gamma^floor(epoch / step_epochs)
//   cosine    lr * (1 + cos(pi * step / total_steps)) / 2   (Loshchilov & Hutter 2017, no restarts)
#pragma once

#include <cstdint>
#include <string>

namespace kiln::train {

enum class ScheduleKind { constant, step, cosine };
ScheduleKind parse_schedule(const std::string& name);  // "constant" | "step" | "cosine"

struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  float base_lr = 0.01f;
  int step_epochs = 5;  // step: decay every this many epochs
  float gamma = 0.1f;   // step: decay factor
  int64_t total_steps = 1;  // cosine: steps of the whole run

  // The rate for global step `step` (0-based) in epoch `epoch` (0-based).
  float at(int64_t step, int epoch) const;
};

}  // namespace kiln::train
