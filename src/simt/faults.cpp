// A process-wide handler for SIGSEGV, SIGBUS and SIGFPE that, while an emulated
// thread runs on this OS thread, jumps back to the scheduler (siglongjmp from
// the signal frame: the handler runs on an alternate stack, so a fiber stack
// overflow is caught too). Outside emulated threads it reinstates the previous
// action and returns, so the fault repeats and ends the process as before.
#include "simt/faults.h"

#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <cstdlib>
#include <mutex>
#include <sstream>

#include "simt/memcheck.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || defined(KILN_SIMT_TSAN)
#define KILN_SIMT_NO_FAULT_HANDLER 1
#endif

namespace kiln::simt::detail {
namespace {

#ifndef KILN_SIMT_NO_FAULT_HANDLER
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE};
struct sigaction g_previous[3];
thread_local sigjmp_buf* g_jump = nullptr;
thread_local Fault g_fault;

void on_fault(int signal, siginfo_t* info, void* context) {
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
    g_jump = nullptr;
    fault = g_fault;
    return false;
  }
  g_jump = &jump;
  fn(arg);
  g_jump = nullptr;
  return true;
#endif
}

std::string describe_fault(const Fault& fault, const LaunchInfo& info, const uint3& thread) {
  std::ostringstream out;
  out << kernel_name(info) << ", thread (" << thread.x << "," << thread.y << "," << thread.z
      << ") of block (" << blockIdx.x << "," << blockIdx.y << "," << blockIdx.z << "): ";
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
