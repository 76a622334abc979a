// Faults in emulated threads (SIGSEGV, SIGBUS, SIGFPE) become errors of the
// launch instead of killing the process.
#pragma once

#include <cstdint>
#include <string>

#include "simt/simt.h"

namespace kiln::simt::detail {

struct Fault {
  int signal = 0;
  int code = 0;                  // si_code
  std::uintptr_t address = 0;    // si_addr: the data address for SIGSEGV/SIGBUS
  std::uintptr_t stack = 0;      // the faulting thread's stack pointer
  bool write = false;            // x86-64 page faults say whether they wrote
};

// Runs fn(arg), a switch into an emulated thread. Returns false and fills
// `fault` if the thread faulted: it never runs again (its stack is abandoned,
// not unwound). Without a handler (ThreadSanitizer builds) just runs fn(arg).
bool run_catching_faults(void (*fn)(void*), void* arg, Fault& fault);

// The KernelError message for a fault of thread `thread` of the current block.
std::string describe_fault(const Fault& fault, const LaunchInfo& info, const uint3& thread);

}  // namespace kiln::simt::detail
