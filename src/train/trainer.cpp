#include "kiln/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kiln/error.h"
#include "kiln/ops/elementwise.h"
#include "kiln/ops/softmax_cross_entropy.h"
#include "kiln/train/checkpoint.h"

namespace kiln::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The values a classifier's loss head connects: images -> ... -> logits, with labels.
struct HeadNames {
  std::string images, labels, logits, loss;
};

HeadNames head_names(const graph::Graph& graph) {
  const graph::Layer& loss = graph.loss_layer();
  HeadNames h{"", loss.inputs()[1], loss.inputs()[0], loss.name()};
  const std::vector<std::string> inputs = graph.input_names();
  KILN_CHECK(inputs.size() == 2, "a classifier model has two input layers (images and labels); ",
             "this one has ", inputs.size());
  h.images = inputs[0] == h.labels ? inputs[1] : inputs[0];
  KILN_CHECK(h.images != h.labels && (inputs[0] == h.labels || inputs[1] == h.labels),
             "the loss head '", h.loss, "' must read its labels from an input layer; it reads '",
             h.labels, "'");
  return h;
}

double read_scalar(const Tensor& t) { return t.to_vector()[0]; }

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

}  // namespace

EvalResult evaluate(graph::Graph& graph, BatchSource& data, int64_t batch_size) {
  KILN_CHECK(batch_size > 0, "the batch size must be positive, got ", batch_size);
  const HeadNames h = head_names(graph);
  Tensor loss_sum = Tensor::zeros({1}, graph.device());
  Tensor correct = Tensor::zeros({1}, graph.device());
  data.unshuffle();
  const graph::RunContext ctx = graph.context(false, 0);
  for (int64_t first = 0; first < data.size(); first += batch_size) {
    const int64_t batch = std::min(batch_size, data.size() - first);
    graph.set_batch(batch);
    data.gather(first, graph.input(h.images), graph.input(h.labels));
    graph.forward(ctx);
    ops::axpy(static_cast<float>(batch), graph.value(h.loss), loss_sum);
    ops::count_correct(graph.value(h.logits), graph.input(h.labels), correct);
  }
  EvalResult r;
  r.images = data.size();
  if (r.images > 0) {
    r.loss = read_scalar(loss_sum) / r.images;
    r.accuracy = read_scalar(correct) / r.images;
  }
  return r;
}

Trainer::Trainer(graph::Graph& graph, const TrainConfig& config)
    : graph_(graph),
      config_(config),
      optimizer_(config.optimizer, graph.params(), graph.device()) {
  KILN_CHECK(config.epochs > 0, "--epochs must be positive, got ", config.epochs);
  KILN_CHECK(config.batch_size > 0, "--batch-size must be positive, got ", config.batch_size);
  KILN_CHECK(config.log_every > 0, "--log-every must be positive, got ", config.log_every);
  KILN_CHECK(config.seed == graph.options().seed, "the trainer's seed ", config.seed,
             " differs from the graph's ", graph.options().seed);
  const HeadNames h = head_names(graph);
  images_ = h.images, labels_ = h.labels, logits_ = h.logits, loss_ = h.loss;
  loss_sum_ = Tensor::zeros({1}, graph.device());
  correct_ = Tensor::zeros({1}, graph.device());
}

void Trainer::resume(const std::string& run_dir) {
  const RunState s = load_checkpoint(run_dir, graph_, optimizer_);
  KILN_CHECK(s.seed == config_.seed, "cannot resume '", run_dir, "' with seed ", config_.seed,
             ": it was trained with --seed ", s.seed);
  step_ = s.step;
  epochs_done_ = s.epoch;
}

void Trainer::log(int epoch, int64_t step_in_epoch, int64_t steps_per_epoch, double seconds,
                  int64_t images, bool final_line) {
  const double loss_sum = read_scalar(loss_sum_), correct = read_scalar(correct_);
  ops::fill(loss_sum_, 0.0f);
  ops::fill(correct_, 0.0f);
  const double interval_loss = interval_images_ > 0 ? loss_sum / interval_images_ : 0.0;
  if (!std::isfinite(loss_sum)) {
    std::ostringstream why;
    why << "training diverged: the training loss is " << (std::isnan(loss_sum) ? "NaN" : "infinite")
        << " at step " << step_
        << " (epoch " << epoch << "; metrics are read every " << config_.log_every
        << " steps, so it went bad after step " << step_ - interval_images_ / config_.batch_size
        << "). ";
    if (!config_.run_dir.empty() && epochs_done_ > 0) {
      why << "The last good checkpoint in " << config_.run_dir << " (epoch " << epochs_done_
          << ") was left untouched. ";
    } else if (!config_.run_dir.empty()) {
      why << "No checkpoint was written. ";
    }
    why << "Try a lower --lr (it is " << config_.schedule.base_lr
        << "), gradient clipping (--clip-norm 1), or --log-every 1 to see the first bad step.";
    throw Error(why.str());
  }
  epoch_loss_ += loss_sum;
  epoch_correct_ += correct;
  epoch_images_ += interval_images_;
  if (on_log) on_log(step_, interval_loss);
  interval_images_ = 0;
  if (!config_.progress) return;
  const double rate = images / std::max(seconds, 1e-9);
  const int64_t steps_left =
      (config_.epochs - epoch) * steps_per_epoch + (steps_per_epoch - step_in_epoch);
  const double seconds_per_step = seconds / std::max<int64_t>(step_in_epoch, 1);
  char line[256];
  std::snprintf(line, sizeof line,
                "epoch %d/%d  step %lld/%lld  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s", epoch,
                config_.epochs, static_cast<long long>(step_in_epoch),
                static_cast<long long>(steps_per_epoch), epoch_loss_ / std::max<int64_t>(epoch_images_, 1),
                100.0 * epoch_correct_ / std::max<int64_t>(epoch_images_, 1), rate,
                format_duration(steps_left * seconds_per_step).c_str());
  static const bool tty = isatty(fileno(stderr));
  if (tty) {
    std::fprintf(stderr, "\r%s\x1b[K%s", line, final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

EpochRecord Trainer::run_epoch(BatchSource& train, int epoch) {
  const int64_t n = train.size();
  const int64_t steps_per_epoch = (n + config_.batch_size - 1) / config_.batch_size;
  epoch_loss_ = epoch_correct_ = 0;
  epoch_images_ = interval_images_ = 0;
  ops::fill(loss_sum_, 0.0f);
  ops::fill(correct_, 0.0f);
  train.shuffle(config_.seed, epoch - 1);
  const auto start = Clock::now();
  int64_t step_in_epoch = 0;
  for (int64_t first = 0; first < n; first += config_.batch_size) {
    const int64_t batch = std::min(config_.batch_size, n - first);
    graph_.set_batch(batch);
    train.gather(first, graph_.input(images_), graph_.input(labels_));
    const graph::RunContext ctx = graph_.context(true, static_cast<uint64_t>(step_));
    graph_.forward(ctx);
    ops::axpy(static_cast<float>(batch), graph_.value(loss_), loss_sum_);
    ops::count_correct(graph_.value(logits_), graph_.input(labels_), correct_);
    graph_.backward(ctx);
    optimizer_.step(config_.schedule.at(step_, epoch - 1));
    ++step_;
    ++step_in_epoch;
    interval_images_ += batch;
    const bool last = first + batch >= n;
    if (step_ % config_.log_every == 0 || last) {
      log(epoch, step_in_epoch, steps_per_epoch, seconds_since(start), first + batch, last);
    }
  }
  EpochRecord r;
  r.epoch = epoch;
  r.step = step_;
  r.seconds = seconds_since(start);
  r.images_per_second = n / std::max(r.seconds, 1e-9);
  r.train_loss = epoch_loss_ / std::max<int64_t>(epoch_images_, 1);
  r.train_accuracy = epoch_correct_ / std::max<int64_t>(epoch_images_, 1);
  return r;
}

void Trainer::check_finite_weights(int epoch) {
  optimizer_.squared_norm_of_values();
  const double norm = read_scalar(optimizer_.squared_norm());
  KILN_CHECK(std::isfinite(norm), "training diverged: the weights are not finite after epoch ",
             epoch, " (step ", step_, "); the last good checkpoint",
             config_.run_dir.empty() ? "" : " in " + config_.run_dir,
             " was left untouched. Try a lower --lr or gradient clipping (--clip-norm 1).");
}

std::vector<EpochRecord> Trainer::fit(BatchSource& train, BatchSource* test) {
  KILN_CHECK(train.size() > 0, "the training set is empty");
  const int64_t steps_per_epoch = (train.size() + config_.batch_size - 1) / config_.batch_size;
  config_.schedule.total_steps = steps_per_epoch * config_.epochs;
  std::vector<EpochRecord> records;
  for (int epoch = epochs_done_ + 1; epoch <= config_.epochs; ++epoch) {
    const auto start = Clock::now();
    EpochRecord r = run_epoch(train, epoch);
    if (test) {
      const EvalResult e = evaluate(graph_, *test, config_.batch_size);
      r.test_loss = e.loss;
      r.test_accuracy = e.accuracy;
    }
    r.seconds = seconds_since(start);
    check_finite_weights(epoch);
    epochs_done_ = epoch;
    if (!config_.run_dir.empty()) {
      save_checkpoint(config_.run_dir, graph_, optimizer_,
                      {epoch, step_, config_.seed, optimizer_name(config_.optimizer.kind)},
                      config_.metadata);
      nlohmann::json j = {{"epoch", r.epoch},
                          {"step", r.step},
                          {"train_loss", r.train_loss},
                          {"train_accuracy", r.train_accuracy},
                          {"images_per_second", r.images_per_second},
                          {"seconds", r.seconds},
                          {"lr", config_.schedule.at(step_ - 1, epoch - 1)}};
      if (test) {
        j["test_loss"] = r.test_loss;
        j["test_accuracy"] = r.test_accuracy;
      }
      std::ofstream(config_.run_dir + "/metrics.jsonl", std::ios::app) << j.dump() << "\n";
    }
    if (config_.progress) {
      std::fprintf(stderr, "epoch %d/%d  train loss %.4f  acc %.2f%%", epoch, config_.epochs,
                   r.train_loss, 100 * r.train_accuracy);
      if (test) {
        std::fprintf(stderr, "  test loss %.4f  acc %.2f%%", r.test_loss, 100 * r.test_accuracy);
      }
      std::fprintf(stderr, "  %.0f img/s  %.1f s\n", r.images_per_second, r.seconds);
    }
    records.push_back(r);
    if (on_epoch && !on_epoch(r)) break;
  }
  return records;
}

}  // namespace kiln::train
