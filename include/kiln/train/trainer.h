// Trainer: runs epochs of a graph with a softmax_cross_entropy loss head over a
// data set that lives on the device. A step gathers its batch on the device,
// runs forward, loss, backward and the optimiser, and adds the batch's loss and
// correct count into device scalars; the host reads them only every log_every
// steps and at the end of an epoch, never inside a step. After each epoch it
// evaluates on the test set, appends one JSON object to RUN_DIR/metrics.jsonl and
// commits the checkpoint (kiln/train/run_dir.h). A non-finite loss or weight
// stops training with an Error and leaves the last good checkpoint untouched. A
// stop request (a signal) is honoured at the next step boundary: the trainer
// commits a checkpoint there that resume() continues exactly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/graph/graph.h"
#include "kiln/train/optimizer.h"
#include "kiln/train/run_dir.h"
#include "kiln/train/schedule.h"

namespace kiln::train {

// The roles of a model's input layers: `data` (images or token ids), `labels` (what
// the loss head compares with: classes, tags or next words) and, for models whose
// recurrent or sequence_pool layers take them, `lengths` ([B] valid steps).
// Token-feature inputs (an input layer with `feature:`) are listed apart from `data`.
struct InputRoles {
  std::string data, labels, lengths;
  std::vector<std::pair<std::string, std::string>> features;  // (input, feature)
};
// Throws an Error naming what is missing or extra when the inputs do not fit.
InputRoles input_roles(const graph::Graph& graph);

// A data set on the device, as the trainer sees it: an epoch is a list of batches,
// each of which fills the graph's inputs on the device (no host synchronisation).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Plans an epoch of batches of (up to) `batch_size` examples: `epoch` >= 0 in an
  // order drawn from (seed, epoch); kNaturalOrder in the data's own order (evaluation).
  static constexpr int kNaturalOrder = -1;
  virtual void plan(uint64_t seed, int epoch, int64_t batch_size) = 0;
  virtual int64_t batches() const = 0;  // in the planned epoch
  // Sets the graph's batch shape, fills its inputs with batch k of the plan and returns
  // how many items the loss averages over (images, or tokens that are not padding).
  virtual int64_t load(int64_t k, graph::Graph& graph) = 0;
  // Items the planned epoch holds (the sum of load()'s results).
  virtual int64_t items() const = 0;
  // What an item is, for progress lines and metrics ("images", "tokens", "texts").
  virtual const char* unit() const = 0;
  // Whether recurrent state flows from batch k to k + 1 (language-model streams).
  virtual bool carries_state() const { return false; }
  // Whether the loss is reported as a perplexity too (language models).
  virtual bool perplexity() const { return false; }
};

// Images and labels, any type with DeviceDataset's members (size, shuffle,
// unshuffle, gather(first, images, labels)), cut into batches in order.
template <class Dataset>
class DatasetSource : public BatchSource {
 public:
  explicit DatasetSource(Dataset& data) : data_(data) {}
  void plan(uint64_t seed, int epoch, int64_t batch_size) override {
    if (epoch == kNaturalOrder) {
      data_.unshuffle();
    } else {
      data_.shuffle(seed, epoch);
    }
    batch_size_ = batch_size;
  }
  int64_t batches() const override { return (data_.size() + batch_size_ - 1) / batch_size_; }
  int64_t load(int64_t k, graph::Graph& graph) override {
    const InputRoles roles = input_roles(graph);
    const int64_t first = k * batch_size_, batch = std::min(batch_size_, data_.size() - first);
    graph.set_batch(batch);
    data_.gather(first, graph.input(roles.data), graph.input(roles.labels));
    return batch;
  }
  int64_t items() const override { return data_.size(); }
  const char* unit() const override { return "images"; }

 private:
  Dataset& data_;
  int64_t batch_size_ = 1;
};

struct TrainConfig {
  int epochs = 10;
  int64_t batch_size = 64;
  uint64_t seed = 1;
  int log_every = 100;  // steps between host reads of the metrics
  OptimizerConfig optimizer;
  Schedule schedule;
  std::string run_dir;  // checkpoints and metrics.jsonl (locked); empty: none written
  std::map<std::string, std::string> metadata;  // stored with the weights
  bool progress = true;  // the progress line on stderr
};

struct EvalResult {
  double loss = 0, accuracy = 0;  // per item (image or token)
  int64_t items = 0;
};

struct EpochRecord {
  int epoch = 0;  // 1-based, as printed
  int64_t step = 0;
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double items_per_second = 0, seconds = 0;
};

// Mean loss and accuracy of `graph` (evaluation mode) over all of `data` in its
// natural order; one host read at the end (which also checks the graph's device
// status, e.g. token ids out of range).
EvalResult evaluate(graph::Graph& graph, BatchSource& data, int64_t batch_size);

// Throws an Error naming the flag and the value for settings that cannot train
// (a negative or NaN --lr, --lr-step-epochs 0, a momentum of 1, ...).
void validate(const TrainConfig& config);

class Trainer {
 public:
  // Validates the configuration; with a run directory, opens and locks it.
  Trainer(graph::Graph& graph, const TrainConfig& config);

  // Continues the run in `run_dir` (the configuration's): weights, optimiser
  // state, epoch, step and, after a stop mid-epoch, the position in the epoch.
  void resume(const std::string& run_dir);
  // Starts a new run in the configuration's run directory: refuses one that
  // holds a checkpoint. fit() calls it unless resume() or start() came first.
  void start();
  // Trains the remaining epochs; `test` may be null (no evaluation). Returns
  // early, after committing a checkpoint, when stop_requested says so.
  std::vector<EpochRecord> fit(BatchSource& train, BatchSource* test);

  // Asked before every step and after every epoch; true stops training there.
  std::function<bool()> stop_requested;
  // Whether the last fit() stopped on request (with its checkpoint committed).
  bool interrupted() const { return interrupted_; }

  // Called at every metrics read with the step count and the mean training loss
  // of the steps since the previous read.
  std::function<void(int64_t step, double loss)> on_log;
  // Called after each epoch's checkpoint; returning false stops training there
  // (as an interruption would).
  std::function<bool(const EpochRecord&)> on_epoch;

  Optimizer& optimizer() { return optimizer_; }
  int64_t step() const { return step_; }
  int epochs_done() const { return epochs_done_; }

 private:
  // The epoch's record, or nothing when a stop request ended it early.
  std::optional<EpochRecord> run_epoch(BatchSource& train, int epoch);
  void restore_progress(const EpochProgress& p);
  EpochProgress progress();
  void commit(int epochs_done, int64_t batch_in_epoch, const EpochProgress& progress);
  void write_metrics(const EpochRecord& r, bool with_test);
  bool stop_now() const { return stop_requested && stop_requested(); }
  void log(int epoch, int64_t step_in_epoch, int64_t steps_per_epoch, double seconds,
           bool final_line);
  void check_finite_weights(int epoch);
  // "  ppl X" for a language model's mean loss, else "".
  std::string perplexity_text(double mean_loss) const;

  graph::Graph& graph_;
  TrainConfig config_;
  Optimizer optimizer_;
  std::string logits_, loss_;
  int ignore_index_;
  const char* unit_ = "images";  // of the source being trained
  bool perplexity_ = false;      // the source's losses are reported as perplexities too
  std::unique_ptr<RunDirectory> run_;
  Tensor loss_sum_, correct_;  // device accumulators since the last read
  double epoch_loss_ = 0, epoch_correct_ = 0;  // host sums of the reads in this epoch
  int64_t interval_items_ = 0, epoch_items_ = 0;
  int64_t interval_steps_ = 0;  // steps since the last read
  int64_t step_ = 0;
  int epochs_done_ = 0;
  int64_t resume_batch_ = 0;  // batches of the next epoch trained before a stop
  EpochProgress resume_progress_;
  bool started_ = false, interrupted_ = false;
};

}  // namespace kiln::train
