// Checkpoints in a run directory, as safetensors files written atomically
// (temporary file + rename, kiln/data/safetensors.h):
//   model.safetensors      the parameters, named PyTorch-style ("conv1.weight"),
//                          float32, loadable with safetensors.torch.load_file;
//   optimizer.safetensors  the optimiser state ("conv1.weight.momentum", or
//                          ".exp_avg"/".exp_avg_sq") with metadata kiln.step,
//                          kiln.epoch (epochs completed), kiln.seed, kiln.optimizer.
// The seed, epoch and step are the whole random state: the data order of an epoch
// is a function of (seed, epoch) and dropout masks of (seed, step).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "kiln/graph/graph.h"
#include "kiln/train/optimizer.h"

namespace kiln::train {

struct RunState {
  int epoch = 0;      // epochs completed
  int64_t step = 0;   // optimiser steps taken
  uint64_t seed = 0;
  std::string optimizer;
};

std::string weights_path(const std::string& run_dir);
std::string optimizer_path(const std::string& run_dir);

// Writes both files (weights first; each atomically). `metadata` goes into the
// weights file too (e.g. the input normalisation).
void save_checkpoint(const std::string& run_dir, graph::Graph& graph, Optimizer& optimizer,
                     const RunState& state, const std::map<std::string, std::string>& metadata);
// The run state of a run directory, without touching a model.
RunState read_run_state(const std::string& run_dir);
// Restores weights and optimiser state; returns the run state.
RunState load_checkpoint(const std::string& run_dir, graph::Graph& graph, Optimizer& optimizer);
// Loads parameter values by name from a safetensors file (--init, eval, predict);
// every parameter must be present with its shape. Returns the file's metadata.
std::map<std::string, std::string> load_weights(const std::string& path, graph::Graph& graph);

}  // namespace kiln::train
