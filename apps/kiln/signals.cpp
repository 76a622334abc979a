#include "signals.h"

#include <unistd.h>

#include <csignal>

namespace kiln::cli {

namespace {

volatile std::sig_atomic_t g_received = 0;
struct sigaction g_previous[2];
constexpr int kSignals[2] = {SIGINT, SIGTERM};

void say(const char* text, std::size_t size) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, size);
  (void)ignored;  // nothing to do about a failed message inside a handler
}

// Async-signal-safe: only write(2), _exit(2) and a sig_atomic_t.
extern "C" void on_signal(int signal) {
  if (g_received != 0) {
    static const char quit[] =
        "\nkiln: second signal: exiting now; the run directory keeps its last checkpoint\n";
    say(quit, sizeof quit - 1);
    ::_exit(128 + signal);
  }
  g_received = signal;
  static const char stopping[] =
      "\nkiln: stopping at the next step to write a checkpoint (Ctrl-C again to quit at once)\n";
  say(stopping, sizeof stopping - 1);
}

}  // namespace

StopOnSignals::StopOnSignals() {
  g_received = 0;
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int i = 0; i < 2; ++i) sigaction(kSignals[i], &action, &g_previous[i]);
}

StopOnSignals::~StopOnSignals() {
  for (int i = 0; i < 2; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
}

int StopOnSignals::received() { return g_received; }

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace kiln::cli
