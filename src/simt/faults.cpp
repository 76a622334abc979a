// A process-wide handler for SIGSEGV, SIGBUS and SIGFPE that, while an emulated
// thread runs on this OS thread, jumps back to the scheduler (siglongjmp from
// the signal frame: the handler runs on an alternate stack, so a fiber stack
// overflow is caught too). Outside emulated threads it reinstates the previous
// action and returns, so the fault repeats and ends the process as before.
#include "simt/faults.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "simt/memcheck.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || defined(KILN_SIMT_TSAN)
#define KILN_SIMT_NO_FAULT_HANDLER 1
#endif

namespace kiln::simt::detail {
namespace {

std::atomic<double>& watchdog_seconds() {
  static std::atomic<double> seconds{[] {
    const char* env = std::getenv("KILN_SIMT_WATCHDOG_S");
    const double value = env && *env ? std::atof(env) : 0.0;
    return value > 0 ? value : 60.0;
  }()};
  return seconds;
}

#ifndef KILN_SIMT_NO_FAULT_HANDLER
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE};
int watchdog_signal() { return SIGRTMIN + 7; }

// The watchdog's view of the launching thread: launches are serialised, so one
// thread at a time runs emulated threads and is the only writer.
std::atomic<std::uint64_t> g_resumes{0};
std::atomic<bool> g_in_thread{false};
pthread_t g_runner;  // written before g_in_thread is set (release)

// Polls a few times per timeout; signals the runner when one emulated thread has
// run through a whole timeout without switching.
[[noreturn]] void watchdog() {
  std::uint64_t last = 0;
  double stalled = 0;
  for (;;) {
    const double timeout = watchdog_seconds().load();
    const double poll = std::clamp(timeout / 4, 0.01, 1.0);
    std::this_thread::sleep_for(std::chrono::duration<double>(poll));
    const std::uint64_t resumes = g_resumes.load(std::memory_order_relaxed);
    if (g_in_thread.load(std::memory_order_acquire) && resumes == last) {
      stalled += poll;
      if (stalled >= timeout) {
        pthread_kill(g_runner, watchdog_signal());
        stalled = 0;
      }
    } else {
      stalled = 0;
    }
    last = resumes;
  }
}
struct sigaction g_previous[3];
thread_local sigjmp_buf* g_jump = nullptr;
thread_local Fault g_fault;

void on_fault(int signal, siginfo_t* info, void* context) {
  if (!g_jump && signal == watchdog_signal()) return;  // the thread switched meanwhile
  if (!g_jump) {
    for (int i = 0; i < 3; ++i) {
      if (kSignals[i] == signal) sigaction(signal, &g_previous[i], nullptr);
    }
    return;
  }
  const auto* uc = static_cast<const ucontext_t*>(context);
  g_fault.signal = signal;
  g_fault.code = info->si_code;
  g_fault.address = reinterpret_cast<std::uintptr_t>(info->si_addr);
#if defined(__x86_64__)
  g_fault.stack = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  g_fault.write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
  (void)uc;
#endif
  siglongjmp(*g_jump, 1);
}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_fault;
    // SA_NODEFER: the jump out of the handler leaves the signal unblocked.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &action, &g_previous[i]);
    sigaction(watchdog_signal(), &action, nullptr);
    std::thread(watchdog).detach();
  });
  thread_local bool has_stack = false;
  if (has_stack) return;
  has_stack = true;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
  stack_t alt{};
  alt.ss_size = 64 * 1024;
  alt.ss_sp = std::malloc(alt.ss_size);  // one per launching OS thread, kept
  if (alt.ss_sp) sigaltstack(&alt, nullptr);
}
#endif

}  // namespace


bool run_catching_faults(void (*fn)(void*), void* arg, Fault& fault) {
#ifdef KILN_SIMT_NO_FAULT_HANDLER
  (void)fault;
  fn(arg);
  return true;
#else
  install_handlers();
  sigjmp_buf jump;
  if (sigsetjmp(jump, 0) != 0) {
    g_in_thread.store(false, std::memory_order_relaxed);
    g_jump = nullptr;
    fault = g_fault;
    return false;
  }
  g_jump = &jump;
  g_runner = pthread_self();
  g_resumes.store(g_resumes.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  g_in_thread.store(true, std::memory_order_release);
  fn(arg);
  g_in_thread.store(false, std::memory_order_relaxed);
  g_jump = nullptr;
  return true;
#endif
}

std::string describe_fault(const Fault& fault, const LaunchInfo& info, const uint3& thread) {
  std::ostringstream out;
  out << kernel_name(info) << ", thread (" << thread.x << "," << thread.y << "," << thread.z
      << ") of block (" << blockIdx.x << "," << blockIdx.y << "," << blockIdx.z << "): ";
#ifndef KILN_SIMT_NO_FAULT_HANDLER
  if (fault.signal == watchdog_signal()) {
    out << "ran for more than " << watchdog_seconds().load()
        << " s without reaching a barrier, a warp op or its end (KILN_SIMT_WATCHDOG_S): a "
           "spin-wait on a value another thread writes? The emulator switches threads only at "
           "barriers and warp ops, so such a wait never ends here";
    return out.str();
  }
#endif
  if (fault.signal == SIGFPE) {
    out << (fault.code == FPE_INTDIV ? "integer division by zero"
                                     : "arithmetic fault (SIGFPE)")
        << " (a GPU returns an unspecified value instead)";
    return out.str();
  }
  const std::uintptr_t distance =
      fault.address > fault.stack ? fault.address - fault.stack : fault.stack - fault.address;
  const std::string what = describe_address(fault.address, info);
  const char* access = fault.write ? "write" : "read";
  if (!what.empty()) {
    out << "out-of-bounds " << access << " of " << what;
  } else if (distance < 64 * 1024) {
    out << "stack overflow (the emulated thread's stack is KILN_SIMT_STACK_KB, default 128)";
  } else {
    out << "invalid " << access << " at address 0x" << std::hex << fault.address << std::dec
        << " (a null, dangling or host pointer?"
        << (memcheck() ? "" : " KILN_SIMT_MEMCHECK=1 names simt allocations") << ")";
  }
  return out.str();
}

}  // namespace kiln::simt::detail

namespace kiln::simt {

void set_watchdog_seconds(double seconds) {
  KILN_CHECK(seconds > 0, "the simt watchdog needs a positive timeout, got ", seconds, " s");
  detail::watchdog_seconds().store(seconds);
}

}  // namespace kiln::simt
