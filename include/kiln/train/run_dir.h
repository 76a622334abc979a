// A run directory, crash-safe:
//   checkpoint.json      the commit record of the latest checkpoint: its number,
//                        epoch, step, seed, optimizer (and, after a stop mid-epoch,
//                        the position and metric sums in that epoch);
//   checkpoints/N/       that checkpoint's model.safetensors and optimizer.safetensors
//                        (kiln/train/checkpoint.h);
//   model.safetensors    a symbolic link to checkpoints/N/model.safetensors;
//   metrics.jsonl        one line per completed epoch;
//   lock                 flock()ed by the process using the run; holds its pid.
// A checkpoint is written to a new checkpoints/N+1/ (files fsynced, then the
// directory), then committed by renaming checkpoint.json.tmp over checkpoint.json
// (fsynced, then the run directory): a crash at any point leaves the previous
// checkpoint committed and whole. An epoch's metrics line is appended (and
// fsynced) before its checkpoint's commit; opening the run truncates metrics.jsonl
// back to the committed epoch, so a resumed run has every epoch exactly once.
// Leftovers of an interrupted save are removed when the run is opened.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "kiln/train/checkpoint.h"

namespace kiln::train {

// RUN_DIR/model.safetensors: the latest checkpoint's weights.
std::string weights_path(const std::string& run_dir);
// The committed state of a run directory (its checkpoint.json), read without
// locking. A directory without one is refused with a message saying what to do.
RunState read_run_state(const std::string& run_dir);

class RunDirectory {
 public:
  // Creates `path` if needed and locks it; a directory another process holds is
  // refused naming that process's pid. Refuses a path that is not a writable
  // directory.
  explicit RunDirectory(const std::string& path);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& path() const { return path_; }
  // For a new run: refuses a directory that holds a checkpoint, and clears what a
  // run killed before its first checkpoint left behind.
  void start_new();
  // Loads the committed checkpoint; clears leftovers and metrics past its epoch.
  RunState resume(graph::Graph& graph, Optimizer& optimizer);
  // Appends one line to metrics.jsonl and fsyncs it; a failed write is an Error.
  void append_metrics(const std::string& line);
  // Writes and commits a new checkpoint (see above).
  void commit(graph::Graph& graph, Optimizer& optimizer, const RunState& state,
              const std::map<std::string, std::string>& metadata);
  // The state last committed or resumed; empty before the first commit.
  const std::optional<RunState>& committed() const { return committed_; }

 private:
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void remove_leftovers();
  void truncate_metrics(int epochs);
  void link_weights();

  std::string path_;
  int lock_fd_ = -1;
  int64_t number_ = 0;  // of the committed checkpoint; 0: none
  std::optional<RunState> committed_;
};

}  // namespace kiln::train
