#include "kiln/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "kiln/error.h"

namespace kiln::train {

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "constant") return ScheduleKind::constant;
  if (name == "step") return ScheduleKind::step;
  if (name == "cosine") return ScheduleKind::cosine;
  throw Error("unknown learning-rate schedule '" + name + "': expected constant, step or cosine");
}

float Schedule::at(int64_t step, int epoch) const {
  switch (kind) {
    case ScheduleKind::constant: return base_lr;
    case ScheduleKind::step:
      return static_cast<float>(base_lr * std::pow(static_cast<double>(gamma),
                                                   epoch / std::max(step_epochs, 1)));
    case ScheduleKind::cosine: {
      constexpr double kPi = 3.141592653589793;
      const double progress =
          std::min(1.0, static_cast<double>(step) / static_cast<double>(std::max<int64_t>(total_steps, 1)));
      return static_cast<float>(base_lr * 0.5 * (1.0 + std::cos(kPi * progress)));
    }
  }
  return base_lr;
}

}  // namespace kiln::train
