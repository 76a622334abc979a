// SIGINT and SIGTERM during `kiln train`: the first asks the trainer to stop at
// the next step boundary (it commits a checkpoint there); a second exits at once
// (the run directory keeps its last committed checkpoint).
#pragma once

namespace kiln::cli {

// The process's exit status, thrown by a command and returned by main.
struct ExitStatus {
  int code;
};

class StopOnSignals {
 public:
  StopOnSignals();   // installs the handlers
  ~StopOnSignals();  // restores the previous ones
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
  // The signal received (SIGINT, SIGTERM), or 0.
  static int received();
};

const char* signal_name(int signal);

}  // namespace kiln::cli
