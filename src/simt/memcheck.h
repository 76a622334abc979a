// Memcheck's internals (see simt.h for what it does): guarded allocations,
// guarded dynamic shared memory, redzone checks, and what a faulting address hit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "simt/simt.h"

namespace kiln::simt::detail {

// The most dynamic shared memory a launch may ask for (sm_90's opt-in limit; the
// per-kernel limits are resources.cpp's).
constexpr std::size_t kMaxDynamicShared = 227 * 1024;

// Dynamic shared memory for the next launch: `bytes` (16-byte aligned) in one
// reserved mapping; with memcheck on, ending at a guard page with a redzone in
// front. Expects the launch mutex held, like the two below.
unsigned char* place_dynamic_shared(std::size_t bytes);
// Poisons the dynamic shared memory (0xFF) and refills its redzone.
void reset_dynamic_shared();
// Throws KernelError if the block wrote into the dynamic shared redzone.
void check_dynamic_shared(const LaunchInfo& info);
// Throws KernelError if the launch wrote into any allocation's redzone.
void check_global_redzones(const LaunchInfo& info);
// What `address` is: an allocation, its redzone or guard pages, freed memory,
// dynamic shared memory; empty if none of these.
std::string describe_address(std::uintptr_t address, const LaunchInfo& info);
// "the kernel NAME" for error messages.
std::string kernel_name(const LaunchInfo& info);

}  // namespace kiln::simt::detail
