// Memcheck and fault reports: each test plants one memory bug in a kernel and
// checks the KernelError that names the kernel, the buffer and the offset.
#ifndef KILN_BACKEND
#define KILN_BACKEND simt_kernels
#endif
#include "kernels/compat.cuh"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <vector>
#include <string>

#include "kiln/runtime.h"
#include "simt/guards.h"

namespace {

using kiln::simt::KernelError;
using kiln::simt::launch_kernel;

using Memcheck = kiln_simt_test::MemcheckGuard;

kiln::rt::Buffer simt_buffer(std::size_t bytes) {
  return kiln::rt::Buffer(kiln::Device::simt(), bytes);
}

// The KernelError message of the launch, or "" if it did not throw one.
template <class... Params, class... Args>
std::string error_of(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
                     Args... args) {
  try {
    launch_kernel(kernel, grid, block, smem, args...);
  } catch (const KernelError& e) {
    return e.what();
  }
  return "";
}

void expect_mentions(const std::string& what, std::initializer_list<const char*> parts) {
  for (const char* part : parts) EXPECT_NE(what.find(part), std::string::npos) << part << "\n" << what;
}

__global__ void write_at(float* y, int index) {
  if (threadIdx.x == 0) y[index] = 1.0f;
}
__global__ void read_at(const float* x, int index, float* out) {
  if (threadIdx.x == 0) out[0] = x[index];
}
__global__ void copy_all(const float* x, float* y, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] = x[i];
}

TEST(SimtMemcheck, WriteOnePastTheEndFaultsOnTheGuardPage) {
  Memcheck on;
  kiln::rt::Buffer y = simt_buffer(64);  // 16 floats, ends at the guard page
  const std::string what = error_of(write_at, dim3(1), dim3(32), 0, y.as<float>(), 16);
  expect_mentions(what, {"write_at", "out-of-bounds write", "64 bytes", "kernel argument 1",
                         "byte offset 64"});
  // The emulator and the buffer stay usable.
  launch_kernel(write_at, dim3(1), dim3(32), 0, y.as<float>(), 15);
  EXPECT_EQ(y.as<float>()[15], 1.0f);
}

TEST(SimtMemcheck, ReadPastTheEndFaults) {
  Memcheck on;
  kiln::rt::Buffer x = simt_buffer(256), out = simt_buffer(4);
  const std::string what =
      error_of(read_at, dim3(1), dim3(1), 0, x.as<const float>(), 70, out.as<float>());
  expect_mentions(what, {"read_at", "out-of-bounds read", "256 bytes", "byte offset 280"});
}

TEST(SimtMemcheck, WriteIntoTheAlignmentSlackIsFoundAfterTheLaunch) {
  Memcheck on;
  kiln::rt::Buffer y = simt_buffer(20);  // 5 floats; 12 bytes of slack before the guard
  const std::string what = error_of(write_at, dim3(1), dim3(32), 0, y.as<float>(), 5);
  expect_mentions(what, {"write_at", "wrote out of bounds", "20 bytes", "byte offset 20"});
}

TEST(SimtMemcheck, WriteBeforeTheStartIsFound) {
  Memcheck on;
  kiln::rt::Buffer y = simt_buffer(64);
  expect_mentions(error_of(write_at, dim3(1), dim3(1), 0, y.as<float>(), -1),
                  {"wrote out of bounds", "byte offset -4"});
  // Beyond the first page's redzone: the lower guard page.
  expect_mentions(error_of(write_at, dim3(1), dim3(1), 0, y.as<float>(), -2000),
                  {"out-of-bounds write", "byte offset -8000"});
}

TEST(SimtMemcheck, UseAfterFreeFaults) {
  Memcheck on;
  kiln::rt::Buffer out = simt_buffer(4);
  const float* stale = nullptr;
  {
    kiln::rt::Buffer x = simt_buffer(128);
    stale = x.as<const float>();
  }
  expect_mentions(error_of(read_at, dim3(1), dim3(1), 0, stale, 3, out.as<float>()),
                  {"read_at", "freed allocation", "byte offset 12"});
}

TEST(SimtMemcheck, CorrectKernelPassesAndSeesThePoison) {
  Memcheck on;
  kiln::rt::Buffer x = simt_buffer(5 * sizeof(float)), y = simt_buffer(5 * sizeof(float));
  launch_kernel(copy_all, dim3(1), dim3(32), 0, x.as<const float>(), y.as<float>(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(std::isnan(y.as<float>()[i])) << "never written";
}

__global__ void dynamic_shared_at(int index, float* out) {
  KILN_DYNAMIC_SHARED(float, s);
  s[threadIdx.x] = 1.0f;
  __syncthreads();
  if (threadIdx.x == 0) s[index] = 2.0f;
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

TEST(SimtMemcheck, DynamicSharedMemoryHasRedzonesAndAGuardPage) {
  Memcheck on;
  kiln::rt::Buffer out = simt_buffer(25 * sizeof(float));
  float* o = out.as<float>();
  launch_kernel(dynamic_shared_at, dim3(1), dim3(25), 100, 24, o);  // in bounds
  expect_mentions(error_of(dynamic_shared_at, dim3(2), dim3(25), 100, 25, o),
                  {"dynamic_shared_at", "wrote out of bounds of dynamic shared memory (100 bytes)",
                   "byte offset 100"});
  expect_mentions(error_of(dynamic_shared_at, dim3(1), dim3(25), 100, 28, o),
                  {"out-of-bounds write of dynamic shared memory (100 bytes) at byte offset 112"});
}

// ---- faults without memcheck -------------------------------------------------------------
__global__ void divide(int* out, int by) { out[threadIdx.x] = 100 / by; }

TEST(SimtFaults, NullPointerWriteIsAKernelError) {
  const std::string what = error_of(write_at, dim3(1), dim3(32), 0, static_cast<float*>(nullptr), 3);
  expect_mentions(what, {"write_at", "thread (0,0,0) of block (0,0,0)", "invalid write at address 0xc"});
}

TEST(SimtFaults, IntegerDivisionByZeroIsAKernelError) {
  int out[4] = {};
  expect_mentions(error_of(divide, dim3(1), dim3(4), 0, out, 0), {"divide", "integer division by zero"});
  launch_kernel(divide, dim3(1), dim3(4), 0, out, 5);
  EXPECT_EQ(out[3], 20);
}

__device__ __noinline__ int deep(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return depth == 0 ? frame[0] : deep(depth - 1) + frame[0];
}
__global__ void recurse(int* out, int depth) { out[threadIdx.x] = deep(depth); }

TEST(SimtFaults, StackOverflowIsAKernelError) {
  int out[2] = {};
  expect_mentions(error_of(recurse, dim3(1), dim3(2), 0, out, 100000),
                  {"recurse", "stack overflow", "KILN_SIMT_STACK_KB"});
  launch_kernel(recurse, dim3(1), dim3(2), 0, out, 3);
}

}  // namespace

// ---- resource limits ----------------------------------------------------------------------
namespace {

constexpr int kBound = 64;
__global__ void __launch_bounds__(kBound) bounded(int* out) { out[threadIdx.x] = 1; }
template <int Threads>
__global__ void __launch_bounds__(Threads, 2) bounded_template(int* out) { out[threadIdx.x] = 2; }

TEST(SimtResources, LaunchBeyondLaunchBoundsIsRefused) {
  std::vector<int> out(1024);
  launch_kernel(bounded, dim3(1), dim3(kBound), 0, out.data());
  expect_mentions(error_of(bounded, dim3(1), dim3(kBound + 1), 0, out.data()),
                  {"bounded", "65 threads per block exceed its __launch_bounds__ (64"});
  launch_kernel(bounded_template<96>, dim3(1), dim3(96), 0, out.data());
  expect_mentions(error_of(bounded_template<96>, dim3(1), dim3(8, 16), 0, out.data()),
                  {"bounded_template<96>", "128 threads per block exceed its __launch_bounds__ (96"});
  // No bound: up to CUDA's 1024.
  launch_kernel(write_at, dim3(1), dim3(1024), 0, reinterpret_cast<float*>(out.data()), 0);
}

__global__ void static_and_dynamic(float* out) {
  __shared__ float tile[4096];  // 16 KiB
  KILN_DYNAMIC_SHARED(float, extra);
  tile[threadIdx.x] = 1.0f;
  extra[threadIdx.x] = 2.0f;
  __syncthreads();
  out[threadIdx.x] = tile[threadIdx.x] + extra[threadIdx.x];
}

TEST(SimtResources, SharedMemoryOver48KiBNeedsTheOptIn) {
  std::vector<float> out(32);
  const void* kernel = reinterpret_cast<const void*>(&static_and_dynamic);
  launch_kernel(static_and_dynamic, dim3(1), dim3(32), 32 * 1024, out.data());  // 48 KiB in all
  EXPECT_EQ(out[0], 3.0f);
  expect_mentions(error_of(static_and_dynamic, dim3(1), dim3(32), 32 * 1024 + 16, out.data()),
                  {"static_and_dynamic", "16384 bytes of static and 32784 of dynamic",
                   "without cudaFuncSetAttribute"});
  kiln::simt::set_max_dynamic_shared(kernel, 64 * 1024);
  launch_kernel(static_and_dynamic, dim3(1), dim3(32), 64 * 1024, out.data());
  expect_mentions(error_of(static_and_dynamic, dim3(1), dim3(32), 64 * 1024 + 16, out.data()),
                  {"exceed the opt-in of 65536"});
  kiln::simt::set_max_dynamic_shared(kernel, 99 * 1024);
  expect_mentions(error_of(static_and_dynamic, dim3(1), dim3(32), 90 * 1024, out.data()),
                  {"limit of 101376 in all"});
  EXPECT_THROW(kiln::simt::set_max_dynamic_shared(kernel, 100 * 1024), KernelError);
}

}  // namespace

// ---- the watchdog -------------------------------------------------------------------------
namespace {

// The planted bug: thread 0 waits for a flag that thread 1 sets, with no
// barrier between; the emulator never switches away from a spinning thread.
__global__ void spin_on_flag(volatile int* flag) {
  if (threadIdx.x == 0) {
    while (*flag == 0) {
    }
  } else {
    *flag = 1;
  }
}

TEST(SimtWatchdog, NeverEndingSpinWaitIsAKernelError) {
  kiln::simt::set_watchdog_seconds(0.2);
  int flag = 0;
  expect_mentions(error_of(spin_on_flag, dim3(1), dim3(2), 0, &flag),
                  {"spin_on_flag", "thread (0,0,0)", "ran for more than 0.2 s", "spin-wait"});
  kiln::simt::set_watchdog_seconds(60);
  flag = 1;
  launch_kernel(spin_on_flag, dim3(1), dim3(2), 0, &flag);  // a wait that ends is fine
}

}  // namespace
