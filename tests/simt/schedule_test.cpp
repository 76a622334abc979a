// The schedules that make warps independent, blocks run out of order and
// grid-stride loops take several passes: each one against a kernel with a
// planted bug that only it catches, and a correct kernel that passes it.
#ifndef KILN_BACKEND
#define KILN_BACKEND simt_kernels
#endif
#include "kernels/common.cuh"
#include "simt/guards.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

namespace {

using kiln::simt::launch_kernel;
using kiln::simt::Schedule;

using kiln_simt_test::ScheduleGuard;

const char* const kLockstep[] = {"forward", "reverse", "random:7"};
constexpr int kSeeds = 8;
std::string warps(int seed) { return "warps:" + std::to_string(seed); }

// ---- __syncwarp where __syncthreads is needed ---------------------------------------
template <bool Block>
__global__ void read_other_warp(int* out) {
  __shared__ int slots[64];
  const unsigned t = threadIdx.x;
  slots[t] = static_cast<int>(t) * 10;
  if (Block) {
    __syncthreads();
  } else {
    __syncwarp();  // the planted bug: orders this warp only
  }
  out[t] = slots[(t + 32) % 64];
}

// True if every thread read the other warp's value.
bool reads_other_warp(bool block_barrier, const std::string& order) {
  ScheduleGuard guard(order);
  std::vector<int> out(64);
  launch_kernel(block_barrier ? read_other_warp<true> : read_other_warp<false>, dim3(1), dim3(64),
                0, out.data());
  for (int t = 0; t < 64; ++t) {
    if (out[t] != (t + 32) % 64 * 10) return false;
  }
  return true;
}

TEST(SimtIndependentWarps, SyncwarpInsteadOfSyncthreadsIsCaught) {
  // Lockstep orders complete a warp op only once every thread has run up to
  // its own, so they miss this bug: the reason for the warps schedule.
  for (const char* order : kLockstep) EXPECT_TRUE(reads_other_warp(false, order)) << order;
  int caught = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) caught += !reads_other_warp(false, warps(seed));
  EXPECT_GE(caught, kSeeds / 2) << "of " << kSeeds << " seeds";
  for (int seed = 1; seed <= kSeeds; ++seed) EXPECT_TRUE(reads_other_warp(true, warps(seed)));
}

// ---- two block reductions without the barrier between them ------------------------------
template <bool Barrier>
__device__ float block_sum_once(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = kiln::simt_kernels::warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x / 32) ? scratch[lane] : 0.0f;
  v = kiln::simt_kernels::warp_sum(v);
  if (Barrier) __syncthreads();  // without it the next call may overwrite scratch too early
  return v;
}

template <bool Barrier>
__global__ void two_block_sums(float* out) {
  __shared__ float scratch[32];
  const float t = static_cast<float>(threadIdx.x);
  out[threadIdx.x * 2] = block_sum_once<Barrier>(t, scratch);
  out[threadIdx.x * 2 + 1] = block_sum_once<Barrier>(1000.0f + t, scratch);
}

bool sums_right(bool barrier, const std::string& order) {
  ScheduleGuard guard(order);
  constexpr int kThreads = 128;
  std::vector<float> out(2 * kThreads);
  launch_kernel(barrier ? two_block_sums<true> : two_block_sums<false>, dim3(1), dim3(kThreads),
                0, out.data());
  const float first = kThreads * (kThreads - 1) / 2.0f, second = first + 1000.0f * kThreads;
  for (int t = 0; t < kThreads; ++t) {
    if (out[t * 2] != first || out[t * 2 + 1] != second) return false;
  }
  return true;
}

TEST(SimtIndependentWarps, MissingBarrierBetweenBlockSumsIsCaught) {
  for (const char* order : kLockstep) EXPECT_TRUE(sums_right(false, order)) << order;
  int caught = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) caught += !sums_right(false, warps(seed));
  EXPECT_GE(caught, kSeeds / 2) << "of " << kSeeds << " seeds";
  for (int seed = 1; seed <= kSeeds; ++seed) EXPECT_TRUE(sums_right(true, warps(seed)));
}

// ---- __activemask: the lanes converged at the call, not every live lane ------------------
__global__ void activemask_in_branch(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  if (lane < 20) out[threadIdx.x] = __activemask();
}

// The planted bug: a reduction over the lanes __activemask() reports, written as
// if that were always all 32.
__global__ void sum_over_activemask(float* out) {
  float v = 1.0f;
  const unsigned mask = __activemask();
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(mask, v, offset);
  out[threadIdx.x] = v;
}

TEST(SimtIndependentWarps, ActivemaskReportsTheConvergedLanes) {
  ScheduleGuard guard;
  std::vector<unsigned> out(32);
  guard.set("forward");
  launch_kernel(activemask_in_branch, dim3(1), dim3(32), 0, out.data());
  for (int t = 0; t < 20; ++t) EXPECT_EQ(out[t], 0x000fffffu) << t;
  std::set<unsigned> seen;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    guard.set(warps(seed));
    launch_kernel(activemask_in_branch, dim3(1), dim3(32), 0, out.data());
    for (int t = 0; t < 20; ++t) {
      ASSERT_NE(out[t] >> t & 1u, 0u) << "the caller is always active";
      ASSERT_EQ(out[t] & ~0x000fffffu, 0u) << "lanes outside the branch never are";
      seen.insert(out[t]);
    }
  }
  EXPECT_GT(seen.size(), 1u) << "independent warps never split the branch's lanes";
}

TEST(SimtIndependentWarps, ReductionAssumingAFullActivemaskIsCaught) {
  ScheduleGuard guard;
  std::vector<float> out(32);
  guard.set("forward");
  launch_kernel(sum_over_activemask, dim3(1), dim3(32), 0, out.data());
  for (float v : out) EXPECT_EQ(v, 32.0f);
  int caught = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    guard.set(warps(seed));
    launch_kernel(sum_over_activemask, dim3(1), dim3(32), 0, out.data());
    bool wrong = false;
    for (float v : out) wrong |= !(v == 32.0f);  // NaN: a read from a lane outside the mask
    caught += wrong;
  }
  EXPECT_GE(caught, kSeeds / 2) << "of " << kSeeds << " seeds";
}

// ---- block order and per-launch seeds ----------------------------------------------------
__global__ void record_block_order(unsigned* out, unsigned* next) {
  if (threadIdx.x == 0) out[atomicAdd(next, 1u)] = blockIdx.x + gridDim.x * blockIdx.y;
}

std::vector<unsigned> block_order(const std::string& order, int launches = 1) {
  ScheduleGuard guard(order);
  std::vector<unsigned> out(12);
  for (int i = 0; i < launches; ++i) {
    unsigned next = 0;
    launch_kernel(record_block_order, dim3(4, 3), dim3(2), 0, out.data(), &next);
  }
  return out;
}

TEST(SimtBlockOrder, FollowsTheSchedule) {
  const std::vector<unsigned> forward = block_order("forward");
  for (unsigned i = 0; i < 12; ++i) EXPECT_EQ(forward[i], i);
  const std::vector<unsigned> reverse = block_order("reverse");
  for (unsigned i = 0; i < 12; ++i) EXPECT_EQ(reverse[i], 11 - i);
  for (const char* order : {"random:3", "warps:3"}) {
    std::vector<unsigned> random = block_order(order);
    EXPECT_NE(random, forward) << order;
    std::sort(random.begin(), random.end());
    EXPECT_EQ(random, forward) << order << ": every block once";
  }
}

TEST(SimtBlockOrder, EachLaunchDrawsItsOwnSeedReproducibly) {
  // The second launch after set_schedule differs from the first, and the same
  // sequence of launches after set_schedule repeats exactly.
  EXPECT_NE(block_order("random:3", 1), block_order("random:3", 2));
  EXPECT_EQ(block_order("random:3", 2), block_order("random:3", 2));
  EXPECT_NE(block_order("random:3"), block_order("random:4"));
}

TEST(SimtSchedule, ParseWarps) {
  const Schedule warps = Schedule::parse("warps:9");
  EXPECT_EQ(warps.kind, kiln::simt::ScheduleKind::warps);
  EXPECT_EQ(warps.seed, 9u);
  EXPECT_EQ(Schedule::parse(warps.str()).seed, 9u);
  EXPECT_EQ(Schedule::parse("warps").kind, kiln::simt::ScheduleKind::warps);
  EXPECT_THROW(Schedule::parse("warps:"), kiln::Error);
  EXPECT_THROW(Schedule::parse("warp"), kiln::Error);
}

}  // namespace

// ---- the grid-stride cap ---------------------------------------------------------------
namespace {

// Sets KILN_SIMT_MAX_BLOCKS for one test.
struct MaxBlocks {
  explicit MaxBlocks(const char* value) { setenv("KILN_SIMT_MAX_BLOCKS", value, 1); }
  ~MaxBlocks() { unsetenv("KILN_SIMT_MAX_BLOCKS"); }
};

// The planted bug: a kernel launched with grid_stride_grid but written as if the
// grid always covered n.
__global__ void one_pass_fill(float* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = 1.0f;
}
__global__ void grid_stride_fill(float* y, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) y[i] = 1.0f;
}

int filled(void (*kernel)(float*, int64_t), int64_t n) {
  std::vector<float> y(n, 0.0f);
  launch_kernel(kernel, kiln::simt_kernels::grid_stride_grid(n, 32), dim3(32), 0, y.data(), n);
  int count = 0;
  for (float v : y) count += v == 1.0f;
  return count;
}

TEST(SimtGridStride, CapMakesLoopsTakeASecondPass) {
  constexpr int64_t n = 200;  // 7 blocks of 32 without the cap
  EXPECT_EQ(filled(one_pass_fill, n), n) << "the GPU's cap of 4096 hides the bug";
  MaxBlocks cap("2");
  EXPECT_EQ(kiln::simt_kernels::grid_stride_grid(n, 32).x, 2u);
  EXPECT_EQ(filled(one_pass_fill, n), 64);
  EXPECT_EQ(filled(grid_stride_fill, n), n);
}

TEST(SimtGridStride, BadCapIsAnErrorNamingTheVariable) {
  for (const char* bad : {"0", "x", "-1", "4097"}) {
    MaxBlocks cap(bad);
    try {
      kiln::simt::max_grid_stride_blocks();
      ADD_FAILURE() << "accepted " << bad;
    } catch (const kiln::Error& e) {
      EXPECT_NE(std::string(e.what()).find("KILN_SIMT_MAX_BLOCKS"), std::string::npos);
    }
  }
}

}  // namespace
