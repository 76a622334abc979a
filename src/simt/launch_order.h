// What a launch takes from the schedule: its own seed, and the order of its blocks.
#pragma once

#include <cstdint>

#include "simt/simt.h"

namespace kiln::simt::detail {

// The current schedule, with the seed of the next launch: a splitmix64 step of
// the schedule's seed and the number of launches since the schedule was set
// (rerunning the same test binary with the same filter reproduces it).
Schedule next_launch_schedule();

// splitmix64: the emulator's one random number generator.
std::uint64_t next_random(std::uint64_t& state);

// The blocks of a grid in schedule order: forward, reverse, or (random, warps) a
// random affine permutation i -> (a*i + b) mod n with a coprime to n, which
// needs no memory for any grid size.
class BlockOrder {
 public:
  BlockOrder(ScheduleKind kind, std::uint64_t blocks, std::uint64_t& rng);
  std::uint64_t operator[](std::uint64_t position) const;

 private:
  std::uint64_t n_, a_ = 1, b_ = 0;
  bool reverse_ = false;
};

}  // namespace kiln::simt::detail
