// The block scheduler: fibers, the block barrier, warp rendezvous, deadlock
// detection and the ThreadSanitizer hooks. See simt.h for the model.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>
#include <vector>

#include <boost/context/fiber.hpp>

#include "simt/faults.h"
#include "simt/launch_order.h"
#include "simt/memcheck.h"
#include "simt/resources.h"
#include "simt/shared_memory.h"
#include "simt/simt.h"
#include "simt/stacks.h"

#if defined(__SANITIZE_THREAD__) && !defined(KILN_SIMT_TSAN)
#define KILN_SIMT_TSAN 1
#endif
#if defined(KILN_SIMT_TSAN) && __has_include(<sanitizer/tsan_interface.h>)
#include <sanitizer/tsan_interface.h>
#endif
#ifdef KILN_SIMT_TSAN
// Not in every version of tsan_interface.h; exported by libtsan.
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
}
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace kiln::simt {
namespace {

namespace ctx = boost::context;

constexpr std::uint64_t kPoison = ~std::uint64_t{0};

// ---- ThreadSanitizer ------------------------------------------------------------
// Fibers switch with no_sync so TSan sees emulated threads as unordered except
// where the emulator orders them (barriers, block start and end). The emulator's
// own bookkeeping is shared by the scheduler and every fiber without such order,
// so it runs with TSan's per-fiber access ignore switched on.
#ifdef KILN_SIMT_TSAN
inline void ignore_begin() { __tsan_ignore_thread_begin(); }
inline void ignore_end() { __tsan_ignore_thread_end(); }
#else
inline void ignore_begin() {}
inline void ignore_end() {}
#endif
struct TsanIgnore {
  TsanIgnore() { ignore_begin(); }
  ~TsanIgnore() { ignore_end(); }
  TsanIgnore(const TsanIgnore&) = delete;
  TsanIgnore& operator=(const TsanIgnore&) = delete;
};

#ifdef KILN_SIMT_TSAN
// TSan fibers are costly to create (~0.7 ms each), so thread i of every block
// reuses one. That orders thread i of a block after thread i of the previous
// block, which block-after-block execution implies anyway. Never destroyed:
// a TSan fiber is a TSan thread, and these live as long as the process.
void* tsan_fiber(unsigned index) {
  static std::vector<void*> fibers;  // guarded by launch_mutex()
  while (fibers.size() <= index) fibers.push_back(__tsan_create_fiber(0));
  return fibers[index];
}
#endif

enum class State : std::uint8_t { runnable, block_wait, warp_wait, exited };

struct Thread {
  ctx::fiber fiber;      // this thread's continuation while it is suspended
  ctx::fiber scheduler;  // the scheduler's continuation while this thread runs
  uint3 idx{};
  State state = State::runnable;
  bool started = false;
  CallSite site{nullptr, 0};
  // the pending barrier or warp op
  WarpOp op = WarpOp::syncwarp;
  unsigned mask = 0;
  int lane_arg = 0;
  int width = 0;
  std::uint64_t value = 0;
  std::uint64_t result = 0;
#ifdef KILN_SIMT_TSAN
  void* tsan_fiber = nullptr;
  // Sync objects alternate by parity: a released thread acquires the object of
  // the epoch it waited in, while faster threads already release into the next.
  char warp_sync[2] = {};
  unsigned warp_ops = 0;       // warp ops this thread completed
  unsigned acquire_lanes = 0;  // lanes of the op it was released from
  unsigned acquire_parity = 0; // their warp_ops parity at that op, one bit a lane
#endif
};

struct Block {
  std::vector<Thread> threads;
  ThreadBody body = nullptr;
  void* context = nullptr;
  std::exception_ptr error;
  unsigned barrier_epoch = 0;
#ifdef KILN_SIMT_TSAN
  void* scheduler_fiber = nullptr;
  char barrier_sync[2] = {};
  char end_sync = 0;
#endif
};

thread_local Block* g_block = nullptr;
thread_local Thread* g_thread = nullptr;

std::atomic<std::uint64_t> g_launches{0}, g_blocks{0}, g_threads{0}, g_switches{0};

// Static shared memory is one per process, so blocks of all launches run one
// at a time, whichever OS thread launches them.
std::mutex& launch_mutex() {
  static std::mutex mutex;
  return mutex;
}

unsigned char* g_dynamic_shared = nullptr;  // this launch's, guarded by launch_mutex()

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::any: return "__any_sync";
    case WarpOp::all: return "__all_sync";
    case WarpOp::syncwarp: return "__syncwarp";
    case WarpOp::activemask: return "__activemask";
  }
  return "?";
}

std::string describe(const uint3& v) {
  return kiln::detail::concat("(", v.x, ",", v.y, ",", v.z, ")");
}
std::string hex(unsigned v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

// Suspends the calling emulated thread until the scheduler resumes it.
void suspend(Thread& t) {
#ifdef KILN_SIMT_TSAN
  __tsan_switch_to_fiber(g_block->scheduler_fiber, __tsan_switch_to_fiber_no_sync);
#endif
  t.scheduler = std::move(t.scheduler).resume();
}

Thread& current_thread(const char* what, CallSite site) {
  if (!g_thread) {
    throw KernelError(kiln::detail::concat(what, " at ", site.file, ":", site.line,
                                     " called outside a kernel launched on the emulator"));
  }
  return *g_thread;
}

// ---- the per-block scheduler ----------------------------------------------------
class BlockRunner {
 public:
  BlockRunner(Block& block, unsigned count, const Schedule& schedule, std::uint64_t& rng,
              const LaunchInfo& info)
      : block_(block), count_(count), schedule_(schedule), rng_(rng), info_(info) {}

  ~BlockRunner() { destroy_fibers(); }

  void run() {
    create_fibers();
    for (;;) {
      if (schedule_.kind == ScheduleKind::warps) {
        run_independent_warps();
      } else {
        run_lockstep_round();
      }
      if (block_.error) std::rethrow_exception(block_.error);
      if (resolve_warps()) continue;
      unsigned exited = 0, at_barrier = 0;
      for (const Thread& t : block_.threads) {
        exited += t.state == State::exited;
        at_barrier += t.state == State::block_wait;
      }
      if (exited == count_) break;
      if (at_barrier == count_) {
        release_block_barrier();
        continue;
      }
      diagnose_stuck(exited);
    }
  }

 private:
  void create_fibers() {
    block_.threads.resize(count_);
    const dim3 dim = blockDim;
    for (unsigned i = 0; i < count_; ++i) {
      Thread& t = block_.threads[i];
      t.idx = uint3{i % dim.x, (i / dim.x) % dim.y, i / (dim.x * dim.y)};
      Block* block = &block_;
      t.fiber = ctx::fiber(std::allocator_arg, detail::PooledStack{},
                           [block, &t](ctx::fiber&& scheduler) { return body(*block, t, std::move(scheduler)); });
#ifdef KILN_SIMT_TSAN
      t.tsan_fiber = tsan_fiber(i);
#endif
    }
  }

  static ctx::fiber body(Block& block, Thread& t, ctx::fiber&& scheduler) {
    ignore_begin();
    t.scheduler = std::move(scheduler);
    ignore_end();
    try {
      block.body(block.context);
    } catch (const ctx::detail::forced_unwind&) {
      // The launch failed and the scheduler destroys this suspended fiber.
#ifdef KILN_SIMT_TSAN
      return_to_scheduler(block);
#endif
      throw;
    } catch (...) {
      TsanIgnore ignore;
      if (!block.error) block.error = std::current_exception();
    }
    {
      TsanIgnore ignore;
      t.state = State::exited;
    }
#ifdef KILN_SIMT_TSAN
    return_to_scheduler(block);
#endif
    return std::move(t.scheduler);
  }

#ifdef KILN_SIMT_TSAN
  // The thread's last access to the block (on the launching thread's stack) must come
  // before its release: one after it would race, for TSan, with whatever later reuses
  // that stack.
  static void return_to_scheduler(Block& block) {
    void* const scheduler = block.scheduler_fiber;
    __tsan_release(&block.end_sync);
    __tsan_switch_to_fiber(scheduler, __tsan_switch_to_fiber_no_sync);
  }
#endif

  void resume(Thread& t) {
    threadIdx = t.idx;
    g_thread = &t;
#ifdef KILN_SIMT_TSAN
    // The first switch synchronises: the block starts after everything the
    // scheduler did (poisoning, the host's writes before the launch). No fault
    // handler here (faults.cpp): the switch goes straight into the thread, since
    // any write to the scheduler's frame after it would be charged to the thread.
    __tsan_switch_to_fiber(t.tsan_fiber, t.started ? __tsan_switch_to_fiber_no_sync : 0);
    t.started = true;
    t.fiber = std::move(t.fiber).resume();
#else
    t.started = true;
    detail::Fault fault;
    if (!detail::run_catching_faults(
            [](void* p) {
              Thread& self = *static_cast<Thread*>(p);
              self.fiber = std::move(self.fiber).resume();
            },
            &t, fault)) {
      // The thread's stack is abandoned, not unwound: it ends the launch. Its
      // copy of the scheduler's continuation is stale (the jump bypassed it);
      // destroying it would unwind the scheduler, so it is leaked (one pointer).
      static_cast<void>(new ctx::fiber(std::move(t.scheduler)));
      t.state = State::exited;
      if (!block_.error) {
        block_.error = std::make_exception_ptr(
            KernelError(detail::describe_fault(fault, info_, t.idx)));
      }
    }
#endif
    g_thread = nullptr;
    g_switches.fetch_add(1, std::memory_order_relaxed);
  }

  void destroy_fibers() {
    for (Thread& t : block_.threads) {
      if (t.fiber) {
        g_thread = &t;
        threadIdx = t.idx;
#ifdef KILN_SIMT_TSAN
        // A fiber that never ran unwinds inside Boost.Context alone, without
        // reaching body(), which switches TSan back to the scheduler.
        if (t.started) __tsan_switch_to_fiber(t.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
        t.fiber = ctx::fiber();  // unwinds the thread's stack (forced_unwind)
        g_thread = nullptr;
      }
    }
#ifdef KILN_SIMT_TSAN
    __tsan_acquire(&block_.end_sync);
#endif
  }

  // Every runnable thread runs up to its next barrier or warp op, in schedule order.
  void run_lockstep_round() {
    std::vector<unsigned>& order = order_;
    order.resize(count_);
    std::iota(order.begin(), order.end(), 0u);
    if (schedule_.kind == ScheduleKind::reverse) std::reverse(order.begin(), order.end());
    if (schedule_.kind == ScheduleKind::random) shuffle(order);
    for (unsigned i : order) {
      Thread& t = block_.threads[i];
      if (t.state != State::runnable) continue;
      resume(t);
      if (block_.error) return;
    }
  }

  // Until no thread is runnable: a random warp runs a burst of warp steps.
  void run_independent_warps() {
    const unsigned warps = (count_ + warpSize - 1) / warpSize;
    std::vector<unsigned> ready;
    for (;;) {
      ready.clear();
      for (unsigned w = 0; w < warps; ++w) {
        if (runnable_lanes(w)) ready.push_back(w);
      }
      if (ready.empty()) return;
      const unsigned w = ready[random() % ready.size()];
      for (std::uint64_t steps = 1 + random() % 8; steps > 0 && runnable_lanes(w); --steps) {
        if (!step_warp(w)) return;
      }
    }
  }

  // Resumes a random subset of the warp's runnable lanes (all of them half the
  // time), then completes the warp ops that became complete. False on an error.
  bool step_warp(unsigned w) {
    const unsigned runnable = runnable_lanes(w);
    unsigned chosen = runnable;
    if (random() & 1u) {
      chosen &= static_cast<unsigned>(random());
      if (chosen == 0) chosen = runnable & (~runnable + 1u);  // the lowest runnable lane
    }
    std::vector<unsigned> lanes;
    for (unsigned l = 0; l < warpSize; ++l) {
      if (chosen >> l & 1u) lanes.push_back(w * warpSize + l);
    }
    shuffle(lanes);
    for (unsigned i : lanes) {
      resume(block_.threads[i]);
      if (block_.error) return false;
    }
    resolve_warp(w);
    return true;
  }

  unsigned runnable_lanes(unsigned warp) {
    unsigned lanes = 0;
    for (unsigned l = 0; l < warpSize; ++l) {
      const Thread* t = lane(warp, l);
      if (t && t->state == State::runnable) lanes |= 1u << l;
    }
    return lanes;
  }

  void shuffle(std::vector<unsigned>& order) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random() % i]);
  }

  std::uint64_t random() { return detail::next_random(rng_); }

  void release_block_barrier() {
    int count = 0;
    for (const Thread& t : block_.threads) count += t.value != 0;
    for (Thread& t : block_.threads) {
      t.result = static_cast<std::uint64_t>(count);
      t.state = State::runnable;
    }
    ++block_.barrier_epoch;
  }

  Thread* lane(unsigned warp, unsigned l) {
    const unsigned i = warp * warpSize + l;
    return i < count_ ? &block_.threads[i] : nullptr;
  }
  // Lanes of `warp` that exist and have not exited.
  unsigned live_lanes(unsigned warp) {
    unsigned live = 0;
    for (unsigned l = 0; l < warpSize; ++l) {
      const Thread* t = lane(warp, l);
      if (t && t->state != State::exited) live |= 1u << l;
    }
    return live;
  }

  // The lanes that rendezvous with `caller`: every live lane named in its mask.
  // Returns 0 unless all of them wait at a warp op agreeing with the caller's.
  // __activemask has no partners to wait for: its group is the lanes waiting at
  // the same call site.
  unsigned complete_group(unsigned warp, const Thread& caller, unsigned live) {
    if (caller.op == WarpOp::activemask) {
      unsigned group = 0;
      for (unsigned l = 0; l < warpSize; ++l) {
        const Thread* t = lane(warp, l);
        if (t && t->state == State::warp_wait && t->op == WarpOp::activemask &&
            t->site.file == caller.site.file && t->site.line == caller.site.line) {
          group |= 1u << l;
        }
      }
      return group;
    }
    const unsigned group = caller.mask & live;
    for (unsigned l = 0; l < warpSize; ++l) {
      if (!(group >> l & 1u)) continue;
      const Thread& t = *lane(warp, l);
      if (t.state != State::warp_wait || t.op != caller.op || t.mask != caller.mask ||
          t.width != caller.width) {
        return 0;
      }
    }
    return group;
  }

  bool resolve_warps() {
    bool progress = false;
    const unsigned warps = (count_ + warpSize - 1) / warpSize;
    for (unsigned w = 0; w < warps; ++w) progress |= resolve_warp(w);
    return progress;
  }

  bool resolve_warp(unsigned w) {
    bool progress = false;
    const unsigned live = live_lanes(w);
    for (unsigned l = 0; l < warpSize; ++l) {
      Thread* t = lane(w, l);
      if (!t || t->state != State::warp_wait) continue;
      const unsigned group = complete_group(w, *t, live);
      if (group == 0) continue;
      complete(w, group, t->op);
      progress = true;
    }
    return progress;
  }

  void complete(unsigned warp, unsigned group, WarpOp op) {
    unsigned votes = 0;
#ifdef KILN_SIMT_TSAN
    unsigned parity = 0;
#endif
    for (unsigned l = 0; l < warpSize; ++l) {
      if (!(group >> l & 1u)) continue;
      const Thread& t = *lane(warp, l);
      if (t.value != 0) votes |= 1u << l;
#ifdef KILN_SIMT_TSAN
      parity |= (t.warp_ops & 1u) << l;
#endif
    }
    for (unsigned l = 0; l < warpSize; ++l) {
      if (!(group >> l & 1u)) continue;
      Thread& t = *lane(warp, l);
      switch (op) {
        case WarpOp::ballot: t.result = votes & group; break;
        case WarpOp::any: t.result = (votes & group) != 0; break;
        case WarpOp::all: t.result = (votes & group) == group; break;
        case WarpOp::syncwarp: t.result = 0; break;
        case WarpOp::activemask: t.result = group; break;
        default: {
          const int source = shuffle_source(op, static_cast<int>(l), t.lane_arg, t.width);
          t.result = (group >> source & 1u) ? lane(warp, source)->value : kPoison;
        }
      }
      t.state = State::runnable;
#ifdef KILN_SIMT_TSAN
      t.acquire_lanes = group;
      t.acquire_parity = parity;
#endif
    }
  }

  // CUDA Programming Guide, "Warp Shuffle Functions": lanes are split into
  // segments of `width`; a source outside the caller's segment (or, for xor, in a
  // later one) yields the caller's own value.
  static int shuffle_source(WarpOp op, int lane, int arg, int width) {
    const int base = lane & ~(width - 1);
    const int offset = lane - base;
    const unsigned delta = static_cast<unsigned>(arg);
    switch (op) {
      case WarpOp::shfl: return base + (arg & (width - 1));
      case WarpOp::shfl_up: return delta > static_cast<unsigned>(offset) ? lane : lane - arg;
      case WarpOp::shfl_down:
        return delta >= static_cast<unsigned>(width - offset) ? lane : lane + arg;
      case WarpOp::shfl_xor: {
        const unsigned target = static_cast<unsigned>(lane) ^ delta;
        return target >= static_cast<unsigned>(base + width) ? lane : static_cast<int>(target);
      }
      default: return lane;
    }
  }

  [[noreturn]] void diagnose_stuck(unsigned exited) {
    const unsigned warps = (count_ + warpSize - 1) / warpSize;
    // Lanes that wait at warp ops whose partners all wait at different ones.
    for (unsigned w = 0; w < warps; ++w) {
      const unsigned live = live_lanes(w);
      for (unsigned l = 0; l < warpSize; ++l) {
        const Thread* t = lane(w, l);
        if (!t || t->state != State::warp_wait) continue;
        const unsigned group = t->mask & live;
        bool all_warp = true;
        for (unsigned k = 0; k < warpSize; ++k) {
          if (group >> k & 1u) all_warp &= lane(w, k)->state == State::warp_wait;
        }
        if (!all_warp) continue;
        std::ostringstream out;
        out << "mismatched warp operations in block " << describe(blockIdx) << ", warp " << w
            << ": the live lanes named in a mask must all call the same intrinsic with the "
               "same mask and width; waiting:";
        report_sites(out, [&](unsigned i, const Thread&) {
          return i / warpSize == w && (group >> i % warpSize & 1u);
        });
        throw KernelError(out.str());
      }
    }
    std::ostringstream out;
    out << "deadlock in block " << describe(blockIdx) << ": " << (count_ - exited) << " of "
        << count_ << " threads wait at barriers that the others never reach;";
    report_sites(out, [](unsigned, const Thread& x) {
      return x.state == State::block_wait || x.state == State::warp_wait;
    });
    out << "\n  " << exited << " threads exited";
    if (exited > 0) out << " (exited threads never arrive at a later __syncthreads)";
    throw DeadlockError(out.str());
  }

  template <class Filter>
  void report_sites(std::ostringstream& out, Filter filter) {
    struct Site {
      std::string what;
      unsigned threads = 0;
      uint3 example{};
    };
    std::map<std::string, Site> sites;  // ordered by text: stable messages
    for (unsigned i = 0; i < count_; ++i) {
      const Thread& t = block_.threads[i];
      if (!filter(i, t)) continue;
      std::string what;
      if (t.state == State::block_wait) {
        what = "__syncthreads";
      } else {
        what = kiln::detail::concat(op_name(t.op), " (mask ", hex(t.mask), ")");
      }
      const std::string key = kiln::detail::concat(t.site.file, ":", t.site.line, " ", what);
      Site& s = sites[key];
      if (s.threads++ == 0) {
        s.what = key;
        s.example = t.idx;
      }
    }
    for (const auto& [key, s] : sites) {
      out << "\n  " << s.what << ": " << s.threads << " threads (e.g. threadIdx "
          << describe(s.example) << ")";
    }
  }

  Block& block_;
  unsigned count_;
  const Schedule& schedule_;
  std::uint64_t& rng_;
  const LaunchInfo& info_;
  std::vector<unsigned> order_;  // a round's order, kept to spare an allocation a round
};

void check_launch(dim3 grid, dim3 block, std::size_t smem) {
  const std::uint64_t threads = std::uint64_t{block.x} * block.y * block.z;
  const auto shape = [](dim3 d) { return kiln::detail::concat(d.x, "x", d.y, "x", d.z); };
  if (block.x == 0 || block.y == 0 || block.z == 0) {
    throw KernelError("invalid launch: block " + shape(block) + " has a zero dimension");
  }
  if (threads > 1024) {
    throw KernelError(kiln::detail::concat("invalid launch: block ", shape(block), " has ", threads,
                                     " threads (at most 1024)"));
  }
  if (block.x > 1024 || block.y > 1024 || block.z > 64) {
    throw KernelError("invalid launch: block " + shape(block) +
                      " exceeds the per-dimension limits 1024x1024x64");
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) {
    throw KernelError("invalid launch: grid " + shape(grid) + " has a zero dimension");
  }
  if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    throw KernelError("invalid launch: grid " + shape(grid) +
                      " exceeds the limits 2147483647x65535x65535");
  }
  if (smem > detail::kMaxDynamicShared) {
    throw KernelError(kiln::detail::concat("invalid launch: ", smem,
                                     " bytes of dynamic shared memory (at most ",
                                     detail::kMaxDynamicShared, ")"));
  }
}

}  // namespace

Stats stats() {
  Stats s;
  s.launches = g_launches.load();
  s.blocks = g_blocks.load();
  s.threads = g_threads.load();
  s.switches = g_switches.load();
  return s;
}

void* dynamic_shared_memory() { return g_dynamic_shared; }

SharedPoison shared_poison() {
  std::lock_guard<std::mutex> lock(launch_mutex());
  detail::update_static_shared();
  return detail::static_shared_coverage();
}

void run_grid(dim3 grid, dim3 block_dim, std::size_t smem, ThreadBody body, void* context,
              const LaunchInfo& info) {
  if (g_block) throw KernelError("a kernel cannot launch a kernel on the emulator");
  check_launch(grid, block_dim, smem);
  std::lock_guard<std::mutex> lock(launch_mutex());
  TsanIgnore ignore;
  detail::check_resources(block_dim, smem, info);
  const Schedule order = detail::next_launch_schedule();
  std::uint64_t rng = order.seed;
  const unsigned count = block_dim.x * block_dim.y * block_dim.z;
  g_dynamic_shared = detail::place_dynamic_shared(smem);
  detail::update_static_shared();
  gridDim = grid;
  blockDim = block_dim;
  g_launches.fetch_add(1, std::memory_order_relaxed);
  struct Current {
    explicit Current(Block* b) { g_block = b; }
    ~Current() { g_block = nullptr; }
  };
  const std::uint64_t blocks = std::uint64_t{grid.x} * grid.y * grid.z;
  const detail::BlockOrder block_order(order.kind, blocks, rng);
  for (std::uint64_t position = 0; position < blocks; ++position) {
    const std::uint64_t b = block_order[position];
    blockIdx = uint3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                     static_cast<unsigned>(b / grid.x / grid.y)};
    detail::poison_static_shared();
    detail::reset_dynamic_shared();
    Block block;
    block.body = body;
    block.context = context;
    Current current(&block);
#ifdef KILN_SIMT_TSAN
    block.scheduler_fiber = __tsan_get_current_fiber();
#endif
    {
      BlockRunner runner(block, count, order, rng, info);
      runner.run();
    }
    detail::check_dynamic_shared(info);
    g_blocks.fetch_add(1, std::memory_order_relaxed);
    g_threads.fetch_add(count, std::memory_order_relaxed);
  }
  detail::check_global_redzones(info);
}

// ---- called from emulated threads ------------------------------------------------
int block_barrier(int predicate, CallSite site) {
  TsanIgnore ignore;
  Thread& t = current_thread("__syncthreads", site);
  t.state = State::block_wait;
  t.site = site;
  t.value = static_cast<std::uint64_t>(predicate);
#ifdef KILN_SIMT_TSAN
  Block& block = *g_block;
  const unsigned epoch = block.barrier_epoch;
  __tsan_release(&block.barrier_sync[epoch & 1u]);
  suspend(t);
  __tsan_acquire(&block.barrier_sync[epoch & 1u]);
#else
  suspend(t);
#endif
  return static_cast<int>(t.result);
}

std::uint64_t warp_exchange(WarpOp op, unsigned mask, std::uint64_t value, int lane_arg,
                            int width, CallSite site) {
  TsanIgnore ignore;
  Thread& t = current_thread(op_name(op), site);
  const unsigned index = static_cast<unsigned>(&t - &g_block->threads[0]);
  const unsigned lane = index % warpSize;
  if (width < 1 || width > warpSize || (width & (width - 1)) != 0) {
    throw KernelError(kiln::detail::concat(op_name(op), " at ", site.file, ":", site.line,
                                     ": width ", width, " is not a power of 2 in [1, 32]"));
  }
  if (!(mask >> lane & 1u)) {
    throw KernelError(kiln::detail::concat(op_name(op), " at ", site.file, ":", site.line, ": mask ",
                                     hex(mask), " does not name the calling lane ", lane,
                                     " (threadIdx ", describe(t.idx), ")"));
  }
  t.state = State::warp_wait;
  t.site = site;
  t.op = op;
  t.mask = mask;
  t.lane_arg = lane_arg;
  t.width = width;
  t.value = value;
#ifdef KILN_SIMT_TSAN
  __tsan_release(&t.warp_sync[t.warp_ops & 1u]);
  suspend(t);
  Thread* first = &g_block->threads[index - lane];
  for (unsigned l = 0; l < warpSize; ++l) {
    if (t.acquire_lanes >> l & 1u) __tsan_acquire(&first[l].warp_sync[t.acquire_parity >> l & 1u]);
  }
  ++t.warp_ops;
#else
  suspend(t);
#endif
  return t.result;
}

unsigned active_mask(CallSite site) {
  TsanIgnore ignore;  // no memory order: __activemask does not synchronise lanes
  Thread& t = current_thread("__activemask", site);
  t.state = State::warp_wait;
  t.site = site;
  t.op = WarpOp::activemask;
  suspend(t);
  return static_cast<unsigned>(t.result);
}

}  // namespace kiln::simt
