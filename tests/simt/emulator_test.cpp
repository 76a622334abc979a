// The SIMT emulator against CUDA's rules: barriers, deadlock reports, schedule
// orders, warp shuffles and votes, launch validation, shared memory poisoning.
#ifndef KILN_BACKEND
#define KILN_BACKEND simt_kernels
#endif
#include "kernels/compat.cuh"
#include "simt/guards.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

// External linkage: g++ puts this template's statics in comdat .bss sections as
// unique global symbols, where the anonymous namespace's would be local ones.
namespace kiln_simt_test {
template <int N>
__global__ void template_read_before_write(unsigned* out) {
  __shared__ unsigned dependent[N];
  __shared__ unsigned fixed[8];
  const unsigned t = threadIdx.x;
  out[(blockIdx.x * blockDim.x + t) * 2] = dependent[t];
  out[(blockIdx.x * blockDim.x + t) * 2 + 1] = fixed[t];
  __syncthreads();
  dependent[t] = t;  // must not leak into the next block or launch
  fixed[t] = t;
}
}  // namespace kiln_simt_test

namespace {

using kiln::simt::DeadlockError;
using kiln::simt::KernelError;
using kiln::simt::launch_kernel;
using kiln::simt::Schedule;

using kiln_simt_test::ScheduleGuard;

unsigned linear_tid() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

std::string message_of(const std::exception& e) { return e.what(); }

// ---- deadlocks ------------------------------------------------------------------
constexpr int kHalfBarrierLine = __LINE__ + 2;
__global__ void half_barrier() {
  if (threadIdx.x < 16) __syncthreads();
}

TEST(SimtDeadlock, HalfTheBlockAtSyncthreadsIsReportedWithItsLine) {
  try {
    launch_kernel(half_barrier, dim3(1), dim3(32), 0);
    FAIL() << "no DeadlockError";
  } catch (const DeadlockError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("emulator_test.cpp:" + std::to_string(kHalfBarrierLine)),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("16 threads (e.g. threadIdx (0,0,0))"), std::string::npos) << what;
    EXPECT_NE(what.find("16 threads exited"), std::string::npos) << what;
  }
  // The emulator stays usable after the failed launch.
  launch_kernel(half_barrier, dim3(1), dim3(16), 0);
}

__global__ void divergent_barriers(int* out) {
  // Volta semantics: different call sites complete one barrier.
  if (threadIdx.x % 2) {
    out[threadIdx.x] = 1;
    __syncthreads();
  } else {
    __syncthreads();
    out[threadIdx.x] = out[threadIdx.x + 1] + 1;
  }
}

TEST(SimtDeadlock, DifferentCallSitesCompleteOneBarrier) {
  std::vector<int> out(64, 0);
  launch_kernel(divergent_barriers, dim3(1), dim3(64), 0, out.data());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], i % 2 ? 1 : 2) << i;
}

constexpr int kShflLine = __LINE__ + 4;
constexpr int kBallotLine = __LINE__ + 5;
__global__ void mismatched_warp_ops(int* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
  } else {
    out[threadIdx.x] = static_cast<int>(__ballot_sync(0xffffffffu, 1));
  }
}

TEST(SimtDeadlock, MismatchedWarpOpsListTheirCallSites) {
  std::vector<int> out(32);
  try {
    launch_kernel(mismatched_warp_ops, dim3(1), dim3(32), 0, out.data());
    FAIL() << "no KernelError";
  } catch (const KernelError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(":" + std::to_string(kShflLine) + " __shfl_sync"), std::string::npos)
        << what;
    EXPECT_NE(what.find(":" + std::to_string(kBallotLine) + " __ballot_sync"), std::string::npos)
        << what;
  }
}

__global__ void warp_op_against_barrier() {
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    __syncwarp();
  }
}

TEST(SimtDeadlock, WarpOpWaitingForABarrierThreadIsADeadlock) {
  EXPECT_THROW(launch_kernel(warp_op_against_barrier, dim3(1), dim3(32), 0), DeadlockError);
}

// ---- schedule orders ------------------------------------------------------------
__global__ void neighbour_read_synced(int* out) {
  __shared__ int slots[64];
  const unsigned t = threadIdx.x;
  slots[t] = static_cast<int>(t) * 10;
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
}
__global__ void neighbour_read_racy(int* out) {
  __shared__ int slots[64];
  const unsigned t = threadIdx.x;
  slots[t] = static_cast<int>(t) * 10;
  out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
}

std::vector<int> run_neighbour(bool sync, const std::string& order) {
  ScheduleGuard guard(order);
  std::vector<int> out(2 * 64);
  launch_kernel(sync ? neighbour_read_synced : neighbour_read_racy, dim3(2), dim3(64), 0,
                out.data());
  return out;
}

TEST(SimtSchedule, MissingSyncthreadsChangesResultsBetweenOrders) {
  const std::vector<int> forward = run_neighbour(false, "forward");
  const std::vector<int> reverse = run_neighbour(false, "reverse");
  EXPECT_NE(forward, reverse);
  EXPECT_EQ(forward[0], -1);  // the poison: thread 1 had not written yet
  EXPECT_EQ(reverse[0], 10);
}

TEST(SimtSchedule, CorrectKernelGivesTheSameResultUnderEveryOrder) {
  const std::vector<int> forward = run_neighbour(true, "forward");
  for (int i = 0; i < 128; ++i) ASSERT_EQ(forward[i], ((i % 64 + 1) % 64) * 10) << i;
  EXPECT_EQ(forward, run_neighbour(true, "reverse"));
  EXPECT_EQ(forward, run_neighbour(true, "random:7"));
}

TEST(SimtSchedule, Parse) {
  EXPECT_EQ(Schedule::parse("forward").kind, kiln::simt::ScheduleKind::forward);
  EXPECT_EQ(Schedule::parse("reverse").kind, kiln::simt::ScheduleKind::reverse);
  EXPECT_EQ(Schedule::parse("random").kind, kiln::simt::ScheduleKind::random);
  const Schedule seeded = Schedule::parse("random:42");
  EXPECT_EQ(seeded.kind, kiln::simt::ScheduleKind::random);
  EXPECT_EQ(seeded.seed, 42u);
  EXPECT_EQ(seeded.str(), "random:42");
  EXPECT_EQ(Schedule::parse(Schedule::parse("reverse").str()).kind,
            kiln::simt::ScheduleKind::reverse);
  for (const char* bad : {"", "Forward", "random:", "random:x", "random:-1", "reverse ", "rand"}) {
    try {
      Schedule::parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const kiln::Error& e) {
      EXPECT_NE(message_of(e).find("forward, reverse, random, random:SEED, warps or warps:SEED"), std::string::npos);
    }
  }
}

// ---- shuffles -------------------------------------------------------------------
enum class Shfl { idx, up, down, xor_ };

__global__ void shuffle_kernel(int* out, Shfl kind, int arg, int width, unsigned mask) {
  const int t = static_cast<int>(linear_tid());
  if (!(mask >> (t % 32) & 1u)) return;
  const int value = 100 + t;
  switch (kind) {
    case Shfl::idx: out[t] = __shfl_sync(mask, value, arg, width); break;
    case Shfl::up: out[t] = __shfl_up_sync(mask, value, static_cast<unsigned>(arg), width); break;
    case Shfl::down: out[t] = __shfl_down_sync(mask, value, static_cast<unsigned>(arg), width); break;
    case Shfl::xor_: out[t] = __shfl_xor_sync(mask, value, arg, width); break;
  }
}

// Returns each thread's result as the source lane (value - 100); -1 where the
// thread did not call, -2 for the poison of a non-participating source.
std::vector<int> shuffle(Shfl kind, int arg, int width, unsigned mask = 0xffffffffu,
                         unsigned threads = 32) {
  std::vector<int> out(threads, -1 + 100);
  launch_kernel(shuffle_kernel, dim3(1), dim3(threads), 0, out.data(), kind, arg, width, mask);
  for (int& v : out) v = v == -1 ? -2 : v - 100;
  return out;
}

std::vector<int> expected(unsigned threads, int (*source)(int lane)) {
  std::vector<int> e(threads);
  for (unsigned i = 0; i < threads; ++i) e[i] = source(static_cast<int>(i));
  return e;
}

TEST(SimtShuffle, SourceLaneWrapsWithinTheSegment) {
  EXPECT_EQ(shuffle(Shfl::idx, 37, 32), expected(32, [](int) { return 5; }));
  EXPECT_EQ(shuffle(Shfl::idx, -1, 32), expected(32, [](int) { return 31; }));
  EXPECT_EQ(shuffle(Shfl::idx, 37, 8), expected(32, [](int l) { return l / 8 * 8 + 5; }));
  EXPECT_EQ(shuffle(Shfl::idx, -1, 8), expected(32, [](int l) { return l / 8 * 8 + 7; }));
  EXPECT_EQ(shuffle(Shfl::idx, 3, 1), expected(32, [](int l) { return l; }));
}

TEST(SimtShuffle, UpAndDownKeepTheirOwnValueAtSegmentBorders) {
  EXPECT_EQ(shuffle(Shfl::up, 3, 8), expected(32, [](int l) { return l % 8 < 3 ? l : l - 3; }));
  EXPECT_EQ(shuffle(Shfl::up, 5, 16),
            expected(32, [](int l) { return l % 16 < 5 ? l : l - 5; }));
  EXPECT_EQ(shuffle(Shfl::down, 3, 8),
            expected(32, [](int l) { return l % 8 >= 5 ? l : l + 3; }));
  EXPECT_EQ(shuffle(Shfl::down, 5, 16),
            expected(32, [](int l) { return l % 16 >= 11 ? l : l + 5; }));
  EXPECT_EQ(shuffle(Shfl::down, 40, 32), expected(32, [](int l) { return l; }));
}

TEST(SimtShuffle, XorReadsEarlierSegmentsButNotLaterOnes) {
  EXPECT_EQ(shuffle(Shfl::xor_, 1, 32), expected(32, [](int l) { return l ^ 1; }));
  // laneMask 8 with width 8: the partner is in the next (later) or previous
  // (earlier) segment.
  EXPECT_EQ(shuffle(Shfl::xor_, 8, 8),
            expected(32, [](int l) { return (l ^ 8) > l ? l : l ^ 8; }));
  EXPECT_EQ(shuffle(Shfl::xor_, 20, 16),
            expected(32, [](int l) { return (l ^ 20) / 16 > l / 16 ? l : l ^ 20; }));
}

TEST(SimtShuffle, PartialMaskPoisonsReadsFromNonParticipants) {
  // Only lanes 0..15 call: lane 15 reading lane 16 gets the poison, 16..31 stay -1.
  EXPECT_EQ(shuffle(Shfl::down, 1, 32, 0x0000ffffu),
            expected(32, [](int l) { return l < 15 ? l + 1 : (l == 15 ? -2 : -1); }));
  EXPECT_EQ(shuffle(Shfl::idx, 20, 32, 0x0000ffffu),
            expected(32, [](int l) { return l < 16 ? -2 : -1; }));
  EXPECT_EQ(shuffle(Shfl::idx, 20, 16, 0x0000ffffu),
            expected(32, [](int l) { return l < 16 ? 4 : -1; }));
}

TEST(SimtShuffle, PartialLastWarpWithFullMask) {
  // 48 threads: warp 1 has lanes 0..15 only; full mask ignores the missing lanes.
  const std::vector<int> got = shuffle(Shfl::xor_, 16, 32, 0xffffffffu, 48);
  for (int t = 0; t < 32; ++t) EXPECT_EQ(got[t], t ^ 16) << t;
  for (int t = 32; t < 48; ++t) EXPECT_EQ(got[t], -2) << t;  // lanes 16..31 do not exist
  const std::vector<int> idx = shuffle(Shfl::idx, 3, 32, 0xffffffffu, 48);
  for (int t = 32; t < 48; ++t) EXPECT_EQ(idx[t], 35) << t;
}

__global__ void bad_width(int* out) { out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0, 3); }

TEST(SimtShuffle, InvalidWidthIsAKernelErrorAndTheNextLaunchWorks) {
  std::vector<int> out(32);
  try {
    launch_kernel(bad_width, dim3(2), dim3(32), 0, out.data());
    FAIL() << "no KernelError";
  } catch (const KernelError& e) {
    EXPECT_NE(message_of(e).find("width 3 is not a power of 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(shuffle(Shfl::idx, 4, 32), expected(32, [](int) { return 4; }));
}

// ---- votes ----------------------------------------------------------------------
__global__ void votes(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  if (threadIdx.x >= 24) return;
  // Every runnable thread runs up to its next barrier before a rendezvous
  // completes, so after this one lanes 24..31 have exited.
  __syncwarp(0x00ffffffu);
  out[threadIdx.x * 5 + 0] = __activemask();
  __syncwarp(0x00ffffffu);
  if (lane >= 16) return;
  const unsigned mask = 0x0000ffffu;
  out[threadIdx.x * 5 + 1] = __ballot_sync(mask, lane % 3 == 0);
  out[threadIdx.x * 5 + 2] = __any_sync(mask, lane == 7);
  out[threadIdx.x * 5 + 3] = __all_sync(mask, lane < 16);
  out[threadIdx.x * 5 + 4] = __all_sync(mask, lane < 15);
}

TEST(SimtVote, BallotAnyAllOverAPartialMask) {
  std::vector<unsigned> out(32 * 5, 0xdeadu);
  launch_kernel(votes, dim3(1), dim3(32), 0, out.data());
  unsigned ballot = 0;
  for (unsigned l = 0; l < 16; l += 3) ballot |= 1u << l;
  for (unsigned t = 0; t < 16; ++t) {
    EXPECT_EQ(out[t * 5 + 0], 0x00ffffffu) << t;
    EXPECT_EQ(out[t * 5 + 1], ballot) << t;
    EXPECT_EQ(out[t * 5 + 2], 1u) << t;
    EXPECT_EQ(out[t * 5 + 3], 1u) << t;
    EXPECT_EQ(out[t * 5 + 4], 0u) << t;
  }
}

__global__ void activemask_after_exit(unsigned* out) {
  if (threadIdx.x % 32 >= 20) return;
  __syncwarp(0x000fffffu);  // lanes 20..31 have exited when this completes
  const unsigned mask = __activemask();
  __syncwarp(0x000fffffu);  // and none of 0..19 before every one has read the mask
  out[threadIdx.x] = mask;
}

TEST(SimtVote, ActivemaskExcludesExitedLanes) {
  std::vector<unsigned> out(40, 0);
  launch_kernel(activemask_after_exit, dim3(1), dim3(40), 0, out.data());
  for (int t = 0; t < 20; ++t) EXPECT_EQ(out[t], 0x000fffffu) << t;
  for (int t = 32; t < 40; ++t) EXPECT_EQ(out[t], 0x000000ffu) << t;
}

// ---- block barriers with predicates, reductions, atomics ---------------------------
__global__ void barrier_predicates(int* out) {
  const unsigned t = linear_tid();
  out[t * 5 + 0] = __syncthreads_count(t % 3 == 0);
  out[t * 5 + 1] = __syncthreads_and(t < 1000);
  out[t * 5 + 2] = __syncthreads_and(t != 17);
  out[t * 5 + 3] = __syncthreads_or(t == 99);
  out[t * 5 + 4] = __syncthreads_or(0);
}

TEST(SimtBarrier, CountAndOr) {
  const unsigned n = 100;
  std::vector<int> out(n * 5, -1);
  launch_kernel(barrier_predicates, dim3(1), dim3(10, 5, 2), 0, out.data());
  for (unsigned t = 0; t < n; ++t) {
    EXPECT_EQ(out[t * 5 + 0], 34) << t;
    EXPECT_NE(out[t * 5 + 1], 0) << t;
    EXPECT_EQ(out[t * 5 + 2], 0) << t;
    EXPECT_NE(out[t * 5 + 3], 0) << t;
    EXPECT_EQ(out[t * 5 + 4], 0) << t;
  }
}

__global__ void block_sum(const float* in, float* out, int n) {
  __shared__ float warp_sums[32];
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  float v = i < n ? in[i] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (lane == 0) atomicAdd(out, v);
  }
}

__global__ void count_int(int* counter) { atomicAdd(counter, 1); }

TEST(SimtBarrier, WarpShuffleReductionAndAtomics) {
  const int n = 1000;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i % 7) * 0.5f;
  float sum = 0.0f;
  double reference = 0.0;
  for (float v : in) reference += v;
  launch_kernel(block_sum, dim3(4), dim3(256), 0, in.data(), &sum, n);
  EXPECT_NEAR(sum, reference, 1e-3);
  int counter = 0;
  launch_kernel(count_int, dim3(7, 3), dim3(33), 0, &counter);
  EXPECT_EQ(counter, 7 * 3 * 33);
}

// ---- indices, shared memory, launch validation -------------------------------------
__global__ void indices(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned t = block * blockDim.x * blockDim.y * blockDim.z + linear_tid();
  out[t * 6 + 0] = threadIdx.x;
  out[t * 6 + 1] = threadIdx.y;
  out[t * 6 + 2] = threadIdx.z;
  out[t * 6 + 3] = blockIdx.x;
  out[t * 6 + 4] = blockIdx.y;
  out[t * 6 + 5] = blockIdx.z;
}

TEST(SimtLaunch, ThreeDimensionalBlocksAndGrids) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  const unsigned per_block = 30, total = 12 * per_block;
  std::vector<unsigned> out(total * 6, 99);
  launch_kernel(indices, grid, block, 0, out.data());
  unsigned t = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned z = 0; z < 2; ++z)
          for (unsigned y = 0; y < 3; ++y)
            for (unsigned x = 0; x < 5; ++x, ++t) {
              const std::vector<unsigned> want{x, y, z, bx, by, bz};
              const std::vector<unsigned> got(out.begin() + t * 6, out.begin() + t * 6 + 6);
              ASSERT_EQ(got, want) << t;
            }
}

__global__ void dynamic_reverse(const int* in, int* out) {
  KILN_DYNAMIC_SHARED(int, buffer);
  const unsigned t = threadIdx.x;
  buffer[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = buffer[blockDim.x - 1 - t];
}

TEST(SimtSharedMemory, Dynamic) {
  std::vector<int> in(3 * 50), out(3 * 50);
  for (int i = 0; i < 150; ++i) in[i] = i;
  launch_kernel(dynamic_reverse, dim3(3), dim3(50), 50 * sizeof(int), in.data(), out.data());
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 50; ++t) EXPECT_EQ(out[b * 50 + t], b * 50 + 49 - t);
}

__global__ void read_before_write(unsigned* out) {
  __shared__ unsigned stale[8];
  KILN_DYNAMIC_SHARED(unsigned, dynamic);
  const unsigned t = threadIdx.x;
  out[blockIdx.x * 16 + t] = stale[t];
  out[blockIdx.x * 16 + 8 + t] = dynamic[t];
  __syncthreads();
  stale[t] = t;  // must not leak into the next block
  dynamic[t] = t;
}

TEST(SimtSharedMemory, PoisonedAtEveryBlockStart) {
  std::vector<unsigned> out(3 * 16, 0);
  launch_kernel(read_before_write, dim3(3), dim3(8), 8 * sizeof(unsigned), out.data());
  for (unsigned i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], 0xffffffffu) << i;
}

template <class T, int N>
__global__ void local_template_read_before_write(T* out) {
  __shared__ T dependent[N];
  __shared__ unsigned fixed[8];
  const unsigned t = threadIdx.x;
  out[(blockIdx.x * blockDim.x + t) * 2] = dependent[t];
  out[(blockIdx.x * blockDim.x + t) * 2 + 1] = static_cast<T>(fixed[t] == 0xffffffffu);
  __syncthreads();
  dependent[t] = static_cast<T>(t);
  fixed[t] = t;
}

// g++ 12 drops the section attribute in function templates; the emulator finds
// these arrays by their ABI tag instead (see simt.h).
TEST(SimtSharedMemory, FunctionTemplatesArePoisonedAtEveryBlockStart) {
  for (int launch = 0; launch < 2; ++launch) {  // the second after the first wrote them
    std::vector<unsigned> out(3 * 8 * 2, 0);
    launch_kernel(kiln_simt_test::template_read_before_write<8>, dim3(3), dim3(8), 0,
                  out.data());
    for (unsigned i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], 0xffffffffu) << launch << " " << i;
    std::vector<unsigned> wide(2 * 8 * 2, 0);
    launch_kernel(kiln_simt_test::template_read_before_write<16>, dim3(2), dim3(8), 0,
                  wide.data());
    for (unsigned i = 0; i < wide.size(); ++i) EXPECT_EQ(wide[i], 0xffffffffu) << launch << " " << i;
    std::vector<float> local(3 * 8 * 2, 0.0f);
    launch_kernel(local_template_read_before_write<float, 8>, dim3(3), dim3(8), 0, local.data());
    for (unsigned i = 0; i < local.size(); i += 2) {
      EXPECT_TRUE(std::isnan(local[i])) << launch << " " << i;
      EXPECT_EQ(local[i + 1], 1.0f) << launch << " " << i;
    }
  }
}

TEST(SimtSharedMemory, PoisonCoversEveryStaticArrayOfThisProgram) {
  const kiln::simt::SharedPoison poison = kiln::simt::shared_poison();
  EXPECT_TRUE(poison.unscanned.empty()) << poison.unscanned.front();
  // The kiln_shared section, and apart from it in .bss the templates' arrays.
  EXPECT_GE(poison.ranges, 2u);
  EXPECT_GE(poison.bytes, (8 + 8 + 16 + 8 + 8) * sizeof(unsigned) + 8 * sizeof(float));
}

__global__ void nothing() {}

TEST(SimtLaunch, ValidationErrorsNameTheProblem) {
  const auto expect_error = [](dim3 grid, dim3 block, std::size_t smem, const char* text) {
    try {
      launch_kernel(nothing, grid, block, smem);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const KernelError& e) {
      EXPECT_NE(message_of(e).find(text), std::string::npos) << e.what();
    }
  };
  expect_error(dim3(1), dim3(1025), 0, "1025 threads (at most 1024)");
  expect_error(dim3(1), dim3(32, 32, 2), 0, "2048 threads");
  expect_error(dim3(1), dim3(1, 1, 65), 0, "1024x1024x64");
  expect_error(dim3(0), dim3(32), 0, "grid 0x1x1 has a zero dimension");
  expect_error(dim3(1, 65536), dim3(32), 0, "exceeds the limits");
  expect_error(dim3(1, 1, 65536), dim3(32), 0, "exceeds the limits");
  expect_error(dim3(1), dim3(32), 227 * 1024 + 1, "bytes of dynamic shared memory");
  // The limits themselves pass (over 48 KiB of shared memory takes the opt-in,
  // SimtResources in memcheck_test.cpp).
  launch_kernel(nothing, dim3(1), dim3(1, 1, 64), 48 * 1024);
}

__global__ void throws_in_one_thread(int* out) {
  if (threadIdx.x == 5 && blockIdx.x == 1) throw std::runtime_error("thread 5 gave up");
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

TEST(SimtLaunch, AnExceptionInAThreadIsRethrownAndTheNextLaunchWorks) {
  std::vector<int> out(4 * 32, 0);
  try {
    launch_kernel(throws_in_one_thread, dim3(4), dim3(32), 0, out.data());
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "thread 5 gave up");
  }
  for (int t = 32; t < 128; ++t) EXPECT_EQ(out[t], 0) << t;  // block 1 stopped
  const std::vector<int> got = run_neighbour(true, "reverse");
  EXPECT_EQ(got[0], 10);
}

TEST(SimtLaunch, BarrierOutsideAKernelIsAnError) {
  EXPECT_THROW(__syncthreads(), KernelError);
}

// ---- cost (printed, not asserted) ----------------------------------------------------
__global__ void many_barriers(int rounds) {
  for (int i = 0; i < rounds; ++i) __syncthreads();
}

TEST(SimtCost, SwitchAndLaunchTimes) {
  using clock = std::chrono::steady_clock;
  const auto before = kiln::simt::stats();
  auto start = clock::now();
  launch_kernel(many_barriers, dim3(1), dim3(256), 0, 2000);
  const double seconds = std::chrono::duration<double>(clock::now() - start).count();
  const auto after = kiln::simt::stats();
  const double switches = static_cast<double>(after.switches - before.switches);
  start = clock::now();
  launch_kernel(nothing, dim3(64), dim3(256), 0);
  const double launch = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("[ simt cost ] %.1f ns per fiber resumption (scheduler -> thread -> scheduler, "
              "incl. barrier bookkeeping); launch of 64 blocks x 256 empty threads: %.2f ms\n",
              seconds / switches * 1e9, launch * 1e3);
  EXPECT_GT(after.launches, before.launches);
}

}  // namespace
