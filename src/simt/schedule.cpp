// Schedule orders (see simt.h), the per-launch seeds and block orders they give,
// and the grid-stride block cap.
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <string>

#include "simt/launch_order.h"
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
std::uint64_t g_launches_since_set = 0;  // guarded by schedule_mutex()

// "random" or "warps", each optionally ":SEED"; false if `text` is neither.
bool parse_seeded(const std::string& text, const std::string& name, std::uint64_t& seed) {
  if (text == name) return true;
  const std::string prefix = name + ":";
  if (text.compare(0, prefix.size(), prefix) != 0 || text.size() == prefix.size() ||
      text.find_first_not_of("0123456789", prefix.size()) != std::string::npos ||
      text.size() - prefix.size() > 19) {
    return false;
  }
  seed = std::stoull(text.substr(prefix.size()));
  return true;
}

}  // namespace

Schedule Schedule::parse(const std::string& text) {
  Schedule result;
  if (text == "forward") return result;
  if (text == "reverse") {
    result.kind = ScheduleKind::reverse;
    return result;
  }
  if (parse_seeded(text, "random", result.seed)) {
    result.kind = ScheduleKind::random;
    return result;
  }
  if (parse_seeded(text, "warps", result.seed)) {
    result.kind = ScheduleKind::warps;
    return result;
  }
  throw Error("invalid SIMT schedule '" + text +
              "': expected forward, reverse, random, random:SEED, warps or warps:SEED (SEED a "
              "decimal number)");
}

std::string Schedule::str() const {
  switch (kind) {
    case ScheduleKind::forward: return "forward";
    case ScheduleKind::reverse: return "reverse";
    case ScheduleKind::random: return "random:" + std::to_string(seed);
    case ScheduleKind::warps: return "warps:" + std::to_string(seed);
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
  g_launches_since_set = 0;
}

unsigned max_grid_stride_blocks() {
  constexpr unsigned kGpuCap = 4096;  // kernels/common.cuh's cap on a GPU
  // Read at every launch (a getenv is cheap next to a launch), so a test can set it.
  const char* env = std::getenv("KILN_SIMT_MAX_BLOCKS");
  if (!env || !*env) return kGpuCap;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(env, &end, 10);
  KILN_CHECK(*end == '\0' && env[0] != '-' && value >= 1 && value <= kGpuCap,
             "KILN_SIMT_MAX_BLOCKS must be a whole number in [1, ", kGpuCap, "], got '", env,
             "'");
  return static_cast<unsigned>(value);
}

namespace detail {

std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Schedule next_launch_schedule() {
  std::lock_guard<std::mutex> lock(schedule_mutex());
  Schedule launch = current();
  std::uint64_t state = launch.seed + g_launches_since_set++;
  launch.seed = next_random(state);
  return launch;
}

BlockOrder::BlockOrder(ScheduleKind kind, std::uint64_t blocks, std::uint64_t& rng)
    : n_(blocks), reverse_(kind == ScheduleKind::reverse) {
  if (kind != ScheduleKind::random && kind != ScheduleKind::warps) return;
  if (n_ < 2) return;
  b_ = next_random(rng) % n_;
  do {
    a_ = next_random(rng) % n_;
  } while (std::gcd(a_, n_) != 1);
}

std::uint64_t BlockOrder::operator[](std::uint64_t position) const {
  if (reverse_) return n_ - 1 - position;
  return static_cast<std::uint64_t>(
      (static_cast<unsigned __int128>(a_) * position + b_) % n_);
}

}  // namespace detail

}  // namespace kiln::simt
