// The benchmarks' clock: wall time, or (--clock cpu) the CPU time of the whole
// process. CPU time is for a loaded machine with OMP_NUM_THREADS=1: there a step's
// wall time includes whatever other processes ran meanwhile, its CPU time does not.
// With more threads it also counts OpenMP's spin-waiting, so it is not offered then.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace kiln::bench {

enum class Clock { wall, cpu };

inline double now_ms(Clock clock) {
  if (clock == Clock::cpu) {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline const char* clock_name(Clock clock) { return clock == Clock::cpu ? "process cpu time" : "wall"; }

}  // namespace kiln::bench
