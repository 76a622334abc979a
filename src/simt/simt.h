// The SIMT emulator: runs CUDA kernel source compiled by g++ on the CPU.
//
// Each block's threads run as Boost.Context fibers on pooled, guard-paged stacks.
// One OS thread runs one block at a time: a fiber runs until it reaches a barrier
// (__syncthreads*, a warp intrinsic) or returns, then the scheduler resumes the
// next fiber in the current schedule order. When every live thread waits:
//   - a warp whose participating lanes all wait at a warp op is resolved (shuffle
//     results, ballots) and those lanes resume;
//   - when every thread of the block waits at __syncthreads*, the barrier
//     releases (call sites may differ; a thread that exited never arrives);
//   - otherwise nothing can progress: a DeadlockError lists the call sites.
// __shared__ variables are statics, poisoned (0xFF bytes, a NaN for floats) at
// every block start, as is dynamic shared memory. They go to the kiln_shared
// section, except in function templates, where g++ 12 drops the section attribute
// (they land in .bss among ordinary statics). So __shared__ also gives each one
// the ABI tag kiln_shared, which g++ keeps: it ends the mangled name
// (...E5tilesB11kiln_shared); at the first launch, and again after a dlopen or
// dlclose, the emulator reads the loaded objects' ELF symbol tables and
// poisons every tagged array with the section (shared_poison() says what that
// covers). In a stripped object only the section is poisoned. At -O0 g++ rejects
// (section type conflict) a translation unit with __shared__ in both an inline
// (non-template) function and a non-inline one. A shuffle from a lane outside
// the rendezvous returns all one bits (a GPU returns an undefined value).
// See docs/ARCHITECTURE.md, "The SIMT emulator".
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/error.h"
#include "simt/allocations.h"

#define KILN_SIMT_QUALIFIERS 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
// The bound is kept in the code itself: max_threads/32 (rounded up) one-byte
// NOPs at the function's entry, which the emulator counts at launch
// (launch_bound() in resources.cpp). The minimum-blocks argument has no effect.
#define __launch_bounds__(max_threads, ...) \
  __attribute__((patchable_function_entry(((max_threads) + 31) / 32, 0)))
#define __align__(n) alignas(n)
#define __shared__ static __attribute__((section("kiln_shared"), abi_tag("kiln_shared")))

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// CUDA's 16-byte vector type, for kernels that load four floats at once.
struct alignas(16) float4 {
  float x, y, z, w;
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace kiln::simt {

// ---- errors -----------------------------------------------------------------
// Threads wait at barriers that the others never reach. The message lists every
// barrier call site with the number of threads waiting there.
class DeadlockError : public Error {
 public:
  using Error::Error;
};
// A kernel broke a CUDA rule the emulator checks (bad launch shape, launch bounds,
// shuffle width, mismatched warp ops, too much shared memory), faulted (an invalid
// or out-of-bounds address, a stack overflow, integer division by zero), wrote
// into a memcheck redzone, or spun past the watchdog.
class KernelError : public Error {
 public:
  using Error::Error;
};

// ---- schedule orders ----------------------------------------------------------
// The order in which runnable threads are resumed within each barrier epoch, and
// the order of a launch's blocks. A correct kernel gives the same result under
// every order; a missing __syncthreads usually does not. From KILN_SIMT_SCHEDULE:
//   "forward" (default): threads and blocks in index order;
//   "reverse": both in reverse;
//   "random" / "random:SEED": both shuffled;
// these three run warps in lockstep: a warp op completes only once every
// runnable thread of the block has run up to its next barrier or warp op.
//   "warps" / "warps:SEED": independent warps. A random warp runs a burst of
//   1..8 warp steps (each step resumes a random subset of its runnable lanes,
//   then completes the warp ops they all wait at) before another is picked, so
//   one warp gets several warp ops ahead of another and a __syncwarp cannot
//   stand in for a __syncthreads.
// Each launch draws its own seed from the schedule's seed and the number of
// launches since the schedule was set.
enum class ScheduleKind { forward, reverse, random, warps };
struct Schedule {
  ScheduleKind kind = ScheduleKind::forward;
  std::uint64_t seed = 1;
  static Schedule parse(const std::string& text);  // throws kiln::Error
  std::string str() const;
};
Schedule schedule();
void set_schedule(const Schedule& schedule);

// Grid-stride launches (kernels/common.cuh grid_stride_grid) use at most this
// many blocks: KILN_SIMT_MAX_BLOCKS (a whole number in [1, 4096]) or 4096, as on
// a GPU.
// A test run with a small cap makes every grid-stride loop take several passes.
unsigned max_grid_stride_blocks();

// Counters since process start, for test output and the CLI.
struct Stats {
  std::uint64_t launches = 0, blocks = 0, threads = 0;
  std::uint64_t switches = 0;  // resumptions of a thread's fiber (a switch there and back)
};
Stats stats();

// ---- memcheck: see simt/allocations.h --------------------------------------------

// ---- launching ----------------------------------------------------------------
using ThreadBody = void (*)(void* context);
// What errors name: the kernel (its symbol) and the pointers among its arguments.
struct LaunchInfo {
  const void* kernel = nullptr;
  const void* const* pointer_args = nullptr;  // null where an argument is no pointer
  std::size_t arg_count = 0;
};
// Runs body(context) once per thread of the grid. Throws DeadlockError or
// KernelError; an exception thrown by a thread is rethrown here.
void run_grid(dim3 grid, dim3 block, std::size_t dynamic_smem_bytes, ThreadBody body,
              void* context, const LaunchInfo& info = {});

template <class T>
const void* pointer_or_null(const T& arg) {
  if constexpr (std::is_pointer_v<T>) {
    return const_cast<const void*>(reinterpret_cast<const volatile void*>(arg));
  } else {
    return nullptr;
  }
}

template <class... Params, class... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
                   Args&&... args) {
  struct Call {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> args;
  };
  Call call{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
  const void* pointers[sizeof...(Params) + 1] = {};
  std::apply([&](const auto&... a) {
    std::size_t i = 0;
    ((pointers[i++] = pointer_or_null(a)), ...);
    (void)i;  // unused for a kernel without parameters
  }, call.args);
  const LaunchInfo info{reinterpret_cast<const void*>(kernel), pointers, sizeof...(Params)};
  run_grid(
      grid, block, smem,
      [](void* p) {
        auto* c = static_cast<Call*>(p);
        std::apply(c->kernel, c->args);
      },
      &call, info);
}

// The watchdog: an emulated thread that runs this long without reaching a
// barrier, a warp op or its end (a spin-wait on another thread's write, which
// never ends on the emulator) fails the launch with a KernelError.
// KILN_SIMT_WATCHDOG_S or 60 s.
void set_watchdog_seconds(double seconds);

// Mirrors cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
// bytes): the kernel may then use more than 48 KiB of shared memory in all, up
// to the opt-in limit (see check_resources in resources.cpp). Throws KernelError
// past that limit, as CUDA returns an error.
void set_max_dynamic_shared(const void* kernel, std::size_t bytes);

// Start of the current block's dynamic shared memory (16-byte aligned).
void* dynamic_shared_memory();

// The static __shared__ arrays that every block start poisons (see the top of
// this file): all of them, unless `unscanned` names an object (the program, or
// one with a kiln_shared section) without a symbol table, whose templated
// kernels' arrays then go unpoisoned. Scans the loaded objects if no launch has.
struct SharedPoison {
  std::size_t ranges = 0;  // memsets per block start: arrays apart in memory
  std::size_t bytes = 0;   // written per block start
  std::vector<std::string> unscanned;
};
SharedPoison shared_poison();

// ---- barriers and warp intrinsics (called through the CUDA names below) ---------
struct CallSite {
  const char* file;
  int line;
};
enum class WarpOp { shfl, shfl_up, shfl_down, shfl_xor, ballot, any, all, syncwarp, activemask };

int block_barrier(int predicate, CallSite site);  // returns the count of true predicates
// Rendezvous of the calling lane with the lanes of `mask`. `value` is this lane's
// 8-byte payload; returns the op's result payload (shuffles: the source lane's
// value; ballot/any/all: the vote).
std::uint64_t warp_exchange(WarpOp op, unsigned mask, std::uint64_t value, int lane_arg,
                            int width, CallSite site);
// The lanes of the caller's warp that reach this __activemask call site in the
// same warp step (see the schedule orders): the lanes converged there.
unsigned active_mask(CallSite site);

template <class T>
std::uint64_t to_payload(T value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle payload");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}
template <class T>
T from_payload(std::uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

}  // namespace kiln::simt

// ---- CUDA's names ---------------------------------------------------------------
// Call sites come from __builtin_FILE/LINE default arguments, so deadlock reports
// and mismatch errors point at the kernel's line.
#define KILN_SITE_PARAMS const char *file_ = __builtin_FILE(), int line_ = __builtin_LINE()
#define KILN_SITE ::kiln::simt::CallSite{file_, line_}

inline void __syncthreads(KILN_SITE_PARAMS) { ::kiln::simt::block_barrier(0, KILN_SITE); }
inline int __syncthreads_count(int p, KILN_SITE_PARAMS) {
  return ::kiln::simt::block_barrier(p != 0, KILN_SITE);
}
inline int __syncthreads_and(int p, KILN_SITE_PARAMS) {
  return ::kiln::simt::block_barrier(p == 0, KILN_SITE) == 0;  // no thread's p is false
}
inline int __syncthreads_or(int p, KILN_SITE_PARAMS) {
  return ::kiln::simt::block_barrier(p != 0, KILN_SITE) != 0;
}
inline void __syncwarp(unsigned mask = 0xffffffffu, KILN_SITE_PARAMS) {
  ::kiln::simt::warp_exchange(::kiln::simt::WarpOp::syncwarp, mask, 0, 0, warpSize, KILN_SITE);
}

#define KILN_SHFL(NAME, OP)                                                                 \
  template <class T>                                                                        \
  T NAME(unsigned mask, T var, int lane_arg, int width = warpSize, KILN_SITE_PARAMS) {      \
    return ::kiln::simt::from_payload<T>(::kiln::simt::warp_exchange(                       \
        ::kiln::simt::WarpOp::OP, mask, ::kiln::simt::to_payload(var), lane_arg, width,     \
        KILN_SITE));                                                                        \
  }
KILN_SHFL(__shfl_sync, shfl)
KILN_SHFL(__shfl_up_sync, shfl_up)
KILN_SHFL(__shfl_down_sync, shfl_down)
KILN_SHFL(__shfl_xor_sync, shfl_xor)
#undef KILN_SHFL

inline unsigned __ballot_sync(unsigned mask, int p, KILN_SITE_PARAMS) {
  return static_cast<unsigned>(::kiln::simt::warp_exchange(
      ::kiln::simt::WarpOp::ballot, mask, p != 0, 0, warpSize, KILN_SITE));
}
inline int __any_sync(unsigned mask, int p, KILN_SITE_PARAMS) {
  return static_cast<int>(::kiln::simt::warp_exchange(::kiln::simt::WarpOp::any, mask, p != 0,
                                                      0, warpSize, KILN_SITE));
}
inline int __all_sync(unsigned mask, int p, KILN_SITE_PARAMS) {
  return static_cast<int>(::kiln::simt::warp_exchange(::kiln::simt::WarpOp::all, mask, p != 0,
                                                      0, warpSize, KILN_SITE));
}
inline unsigned __activemask(KILN_SITE_PARAMS) { return ::kiln::simt::active_mask(KILN_SITE); }

#undef KILN_SITE_PARAMS
#undef KILN_SITE

#include "simt/intrinsics.h"
