// Checkpoints: what one holds and how its files are read. A checkpoint is a
// directory of two safetensors files:
//   model.safetensors      the parameters, named PyTorch-style ("conv1.weight"),
//                          float32, loadable with safetensors.torch.load_file;
//   optimizer.safetensors  the optimiser state ("conv1.weight.momentum", or
//                          ".exp_avg"/".exp_avg_sq").
// Both carry metadata kiln.checkpoint (the checkpoint's number) and kiln.step, so
// a pair that does not belong together is refused. The seed, epoch and step are
// the whole random state: the data order of an epoch is a function of (seed,
// epoch) and dropout masks of (seed, step). How a run directory commits
// checkpoints atomically: kiln/train/run_dir.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "kiln/graph/graph.h"
#include "kiln/train/optimizer.h"

namespace kiln::train {

// The metric sums of an epoch stopped part-way (a signal), so that the resumed
// epoch's metrics line equals an uninterrupted run's.
struct EpochProgress {
  double loss = 0, correct = 0;   // host sums of the reads so far
  int64_t items = 0;              // items (images, tokens) those sums cover
  int64_t interval_items = 0;     // items in the device accumulators
  float device_loss = 0, device_correct = 0;  // the device accumulators
};

struct RunState {
  int epoch = 0;                // epochs completed
  int64_t step = 0;             // optimiser steps taken
  int64_t batch_in_epoch = 0;   // batches of epoch + 1 already trained (a stop mid-epoch)
  int64_t batch_size = 0;       // of those batches
  uint64_t seed = 0;
  std::string optimizer;
  EpochProgress progress;       // of epoch + 1, when batch_in_epoch > 0
};

// Writes the two files of a checkpoint into `dir` (each atomically), tagged with
// `number`. `metadata` goes into the model file too (e.g. the input normalisation).
void write_checkpoint_files(const std::string& dir, int64_t number, graph::Graph& graph,
                            Optimizer& optimizer, const RunState& state,
                            const std::map<std::string, std::string>& metadata);
// Restores weights and optimiser state from the files in `dir`, checking that
// both belong to checkpoint `number` at `state`'s step, epoch, seed and optimizer.
void read_checkpoint_files(const std::string& dir, int64_t number, const RunState& state,
                           graph::Graph& graph, Optimizer& optimizer);

// Loads parameter values by name from a safetensors file (--init, eval, predict);
// every parameter must be present with its shape and finite. Returns the file's
// metadata.
std::map<std::string, std::string> load_weights(const std::string& path, graph::Graph& graph);

// Strict metadata and text parsing: the whole text must be the number, in range.
// Errors name `where` (file and key) and the text.
int64_t parse_integer(const std::string& text, int64_t min, int64_t max, const std::string& where);
uint64_t parse_unsigned(const std::string& text, const std::string& where);
float parse_float(const std::string& text, const std::string& where);

}  // namespace kiln::train
