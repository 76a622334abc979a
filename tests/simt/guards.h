// Scope guards for the emulator's process-wide settings, so that a test that
// changes one leaves the next test the settings it started with.
#pragma once

#include <string>

#include "simt/simt.h"

namespace kiln_simt_test {

// Sets the schedule (given as KILN_SIMT_SCHEDULE text) for one scope.
struct ScheduleGuard {
  kiln::simt::Schedule saved = kiln::simt::schedule();
  ScheduleGuard() = default;
  explicit ScheduleGuard(const std::string& order) { set(order); }
  void set(const std::string& order) { kiln::simt::set_schedule(kiln::simt::Schedule::parse(order)); }
  ~ScheduleGuard() { kiln::simt::set_schedule(saved); }
};

// Memcheck on for one scope; allocations made in it are guarded.
struct MemcheckGuard {
  bool saved = kiln::simt::memcheck();
  MemcheckGuard() { kiln::simt::set_memcheck(true); }
  ~MemcheckGuard() { kiln::simt::set_memcheck(saved); }
};

}  // namespace kiln_simt_test
