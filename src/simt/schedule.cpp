#include <cstdlib>
#include <mutex>
#include <string>

#include "simt/simt.h"

namespace kiln::simt {
namespace {

std::mutex& schedule_mutex() {
  static std::mutex mutex;
  return mutex;
}
Schedule& current() {
  static Schedule value = [] {
    const char* env = std::getenv("KILN_SIMT_SCHEDULE");
    return env && *env ? Schedule::parse(env) : Schedule{};
  }();
  return value;
}

}  // namespace

Schedule Schedule::parse(const std::string& text) {
  Schedule result;
  if (text == "forward") return result;
  if (text == "reverse") {
    result.kind = ScheduleKind::reverse;
    return result;
  }
  result.kind = ScheduleKind::random;
  if (text == "random") return result;
  const std::string prefix = "random:";
  if (text.compare(0, prefix.size(), prefix) == 0 && text.size() > prefix.size() &&
      text.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
      text.size() - prefix.size() <= 19) {
    result.seed = std::stoull(text.substr(prefix.size()));
    return result;
  }
  throw Error("invalid SIMT schedule '" + text +
              "': expected forward, reverse, random or random:SEED (SEED a decimal number)");
}

std::string Schedule::str() const {
  switch (kind) {
    case ScheduleKind::forward: return "forward";
    case ScheduleKind::reverse: return "reverse";
    case ScheduleKind::random: return "random:" + std::to_string(seed);
  }
  return "?";
}

Schedule schedule() {
  std::lock_guard<std::mutex> lock(schedule_mutex());
  return current();
}

void set_schedule(const Schedule& schedule) {
  std::lock_guard<std::mutex> lock(schedule_mutex());
  current() = schedule;
}

}  // namespace kiln::simt
