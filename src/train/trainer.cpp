#include "kiln/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/ops/elementwise.h"
#include "kiln/ops/softmax_cross_entropy.h"
#include "kiln/train/checkpoint.h"

namespace kiln::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool takes_lengths(const graph::Layer& layer) {
  const std::string type = layer.type();
  return layer.inputs().size() == 2 &&
         (type == "lstm" || type == "gru" || type == "rnn" || type == "sequence_pool");
}

// "img/s" for images, "tok/s" for tokens, "texts/s" for texts.
const char* unit_abbreviation(const std::string& unit) {
  return unit == "images" ? "img" : unit == "tokens" ? "tok" : "texts";
}


double read_scalar(const Tensor& t) { return t.to_vector()[0]; }

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

}  // namespace

InputRoles input_roles(const graph::Graph& graph) {
  const graph::Layer& loss = graph.loss_layer();
  InputRoles roles;
  roles.labels = loss.inputs()[1];
  for (const graph::Layer* layer : graph.order()) {
    if (takes_lengths(*layer)) roles.lengths = layer->inputs()[1];
  }
  const std::vector<std::string> inputs = graph.input_names();
  KILN_CHECK(std::count(inputs.begin(), inputs.end(), roles.labels) == 1, "the loss head '",
             loss.name(), "' must read its labels from an input layer; it reads '", roles.labels,
             "'");
  for (const graph::Layer* layer : graph.order()) {
    const std::string feature = graph::input_feature(*layer);
    if (!feature.empty()) roles.features.emplace_back(layer->name(), feature);
  }
  std::vector<std::string> data;
  for (const std::string& name : inputs) {
    const bool feature = std::any_of(roles.features.begin(), roles.features.end(),
                                     [&](const auto& f) { return f.first == name; });
    if (name != roles.labels && name != roles.lengths && !feature) data.push_back(name);
  }
  KILN_CHECK(data.size() == 1, "a trainable model has one data input (images or token ids) ",
             "besides its labels '", roles.labels, "'",
             roles.lengths.empty() ? "" : " and lengths '" + roles.lengths + "'", "; this one has ",
             data.size(), data.empty() ? "" : ": '" + data[0] + "', '" + data[1] + "'...");
  roles.data = data[0];
  return roles;
}

namespace {

// Adds the batch's loss (a mean over `items`) and its correct predictions to the
// device accumulators.
void accumulate_metrics(graph::Graph& graph, const std::string& logits,
                        const std::string& loss, int ignore_index, int64_t items,
                        const InputRoles& roles, Tensor& loss_sum, Tensor& correct) {
  ops::axpy(static_cast<float>(items), graph.value(loss), loss_sum);
  const Tensor& y = graph.value(logits);
  const int64_t classes = y.shape().back();
  ops::count_correct(y.view({y.numel() / classes, classes}),
                     graph.input(roles.labels).view({y.numel() / classes}), correct, ignore_index);
}

graph::RunContext batch_context(const graph::Graph& graph, bool training, uint64_t step,
                                const BatchSource& data, int64_t k) {
  graph::RunContext ctx = graph.context(training, step);
  ctx.carry_state = data.carries_state() && k > 0;
  return ctx;
}

}  // namespace

EvalResult evaluate(graph::Graph& graph, BatchSource& data, int64_t batch_size) {
  KILN_CHECK(batch_size > 0, "the batch size must be positive, got ", batch_size);
  const graph::Layer& loss = graph.loss_layer();
  const InputRoles roles = input_roles(graph);
  const int ignore_index = graph::loss_ignore_index(loss);
  Tensor loss_sum = Tensor::zeros({1}, graph.device());
  Tensor correct = Tensor::zeros({1}, graph.device());
  data.plan(0, BatchSource::kNaturalOrder, batch_size);
  EvalResult r;
  for (int64_t k = 0; k < data.batches(); ++k) {
    const int64_t items = data.load(k, graph);
    graph.forward(batch_context(graph, false, 0, data, k));
    accumulate_metrics(graph, loss.inputs()[0], loss.name(), ignore_index, items, roles, loss_sum,
                       correct);
    r.items += items;
  }
  graph.check_device_status();
  if (r.items > 0) {
    r.loss = read_scalar(loss_sum) / r.items;
    r.accuracy = read_scalar(correct) / r.items;
  }
  return r;
}

namespace {

void check_range(const char* flag, double value, double low, double high, bool open_low,
                 bool open_high) {
  const bool ok = std::isfinite(value) && (open_low ? value > low : value >= low) &&
                  (open_high ? value < high : value <= high);
  KILN_CHECK(ok, flag, " must be a finite number in ", open_low ? "(" : "[", low, ", ", high,
             open_high ? ")" : "]", ", got ", value);
}

}  // namespace

void validate(const TrainConfig& c) {
  KILN_CHECK(c.epochs > 0, "--epochs must be positive, got ", c.epochs);
  KILN_CHECK(c.batch_size > 0, "--batch-size must be positive, got ", c.batch_size);
  KILN_CHECK(c.log_every > 0, "--log-every must be positive, got ", c.log_every);
  const double inf = HUGE_VAL;
  check_range("--lr", c.schedule.base_lr, 0, inf, true, true);
  check_range("--lr-gamma", c.schedule.gamma, 0, inf, true, true);
  KILN_CHECK(c.schedule.step_epochs > 0, "--lr-step-epochs must be positive, got ",
             c.schedule.step_epochs);
  check_range("--momentum", c.optimizer.momentum, 0, 1, false, true);
  check_range("--weight-decay", c.optimizer.weight_decay, 0, inf, false, true);
  check_range("--beta1", c.optimizer.beta1, 0, 1, false, true);
  check_range("--beta2", c.optimizer.beta2, 0, 1, false, true);
  check_range("--clip-norm", c.optimizer.clip_norm, 0, inf, false, true);
}

Trainer::Trainer(graph::Graph& graph, const TrainConfig& config)
    : graph_(graph),
      config_((validate(config), config)),
      optimizer_(config.optimizer, graph.params(), graph.device()) {
  KILN_CHECK(config.seed == graph.options().seed, "the trainer's seed ", config.seed,
             " differs from the graph's ", graph.options().seed);
  const graph::Layer& loss = graph.loss_layer();
  input_roles(graph);  // checks the inputs before anything is written
  logits_ = loss.inputs()[0];
  loss_ = loss.name();
  ignore_index_ = graph::loss_ignore_index(loss);
  loss_sum_ = Tensor::zeros({1}, graph.device());
  correct_ = Tensor::zeros({1}, graph.device());
  if (!config.run_dir.empty()) run_ = std::make_unique<RunDirectory>(config.run_dir);
}

void Trainer::resume(const std::string& run_dir) {
  KILN_CHECK(run_ && run_dir == config_.run_dir, "resume('", run_dir,
             "'): the trainer's run directory is '", config_.run_dir, "'");
  const RunState s = run_->resume(graph_, optimizer_);
  KILN_CHECK(s.seed == config_.seed, "cannot resume '", run_dir, "' with seed ", config_.seed,
             ": it was trained with --seed ", s.seed);
  KILN_CHECK(s.batch_in_epoch == 0 || s.batch_size == config_.batch_size, "cannot resume '",
             run_dir, "' with --batch-size ", config_.batch_size, ": it stopped in the middle of ",
             "epoch ", s.epoch + 1, " after ", s.batch_in_epoch, " batches of ", s.batch_size,
             "; resume with --batch-size ", s.batch_size);
  step_ = s.step;
  epochs_done_ = s.epoch;
  resume_batch_ = s.batch_in_epoch;
  resume_progress_ = s.progress;
  started_ = true;
}

void Trainer::start() {
  KILN_CHECK(!started_, "the trainer's run has already started");
  if (run_) run_->start_new();
  started_ = true;
}

void Trainer::log(int epoch, int64_t step_in_epoch, int64_t steps_per_epoch, double seconds,
                  bool final_line) {
  const double loss_sum = read_scalar(loss_sum_), correct = read_scalar(correct_);
  ops::fill(loss_sum_, 0.0f);
  ops::fill(correct_, 0.0f);
  graph_.check_device_status();
  const double interval_loss = interval_items_ > 0 ? loss_sum / interval_items_ : 0.0;
  if (!std::isfinite(loss_sum)) {
    std::ostringstream why;
    why << "training diverged: the training loss is " << (std::isnan(loss_sum) ? "NaN" : "infinite")
        << " at step " << step_
        << " (epoch " << epoch << "; metrics are read every " << config_.log_every
        << " steps, so it went bad after step " << step_ - interval_steps_
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
  epoch_items_ += interval_items_;
  if (on_log) on_log(step_, interval_loss);
  interval_items_ = 0;
  interval_steps_ = 0;
  if (!config_.progress) return;
  const double rate = epoch_items_ / std::max(seconds, 1e-9);
  const int64_t steps_left =
      (config_.epochs - epoch) * steps_per_epoch + (steps_per_epoch - step_in_epoch);
  const double seconds_per_step = seconds / std::max<int64_t>(step_in_epoch, 1);
  const double mean_loss = epoch_loss_ / std::max<int64_t>(epoch_items_, 1);
  char line[256];
  std::snprintf(line, sizeof line, "epoch %d/%d  step %lld/%lld  loss %.4f%s  acc %.2f%%  %.0f %s/s  ETA %s",
                epoch, config_.epochs, static_cast<long long>(step_in_epoch),
                static_cast<long long>(steps_per_epoch), mean_loss,
                perplexity_text(mean_loss).c_str(),
                100.0 * epoch_correct_ / std::max<int64_t>(epoch_items_, 1), rate, unit_abbreviation(unit_),
                format_duration(steps_left * seconds_per_step).c_str());
  static const bool tty = isatty(fileno(stderr));
  if (tty) {
    std::fprintf(stderr, "\r%s\x1b[K%s", line, final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

void Trainer::restore_progress(const EpochProgress& p) {
  epoch_loss_ = p.loss;
  epoch_correct_ = p.correct;
  epoch_items_ = p.items;
  interval_items_ = p.interval_items;
  interval_steps_ = 0;
  ops::fill(loss_sum_, p.device_loss);
  ops::fill(correct_, p.device_correct);
}

EpochProgress Trainer::progress() {
  return {epoch_loss_, epoch_correct_, epoch_items_, interval_items_,
          static_cast<float>(read_scalar(loss_sum_)), static_cast<float>(read_scalar(correct_))};
}

void Trainer::commit(int epochs_done, int64_t batch_in_epoch, const EpochProgress& progress) {
  if (!run_) return;
  RunState state;
  state.epoch = epochs_done;
  state.step = step_;
  state.batch_in_epoch = batch_in_epoch;
  state.batch_size = config_.batch_size;
  state.seed = config_.seed;
  state.optimizer = optimizer_name(config_.optimizer.kind);
  state.progress = progress;
  run_->commit(graph_, optimizer_, state, config_.metadata);
}

std::optional<EpochRecord> Trainer::run_epoch(BatchSource& train, int epoch) {
  int64_t step_in_epoch = resume_batch_;
  restore_progress(resume_batch_ > 0 ? resume_progress_ : EpochProgress{});
  resume_batch_ = 0;
  train.plan(config_.seed, epoch - 1, config_.batch_size);
  const int64_t steps_per_epoch = train.batches();
  const InputRoles roles = input_roles(graph_);
  const auto start = Clock::now();
  for (int64_t k = step_in_epoch; k < steps_per_epoch; ++k) {
    if (stop_now()) {
      const EpochProgress p = progress();
      KILN_CHECK(std::isfinite(p.device_loss), "training diverged: the training loss is not ",
                 "finite at step ", step_, "; no checkpoint was written for the stop");
      check_finite_weights(epoch);
      commit(epoch - 1, step_in_epoch, p);
      return std::nullopt;
    }
    const int64_t items = train.load(k, graph_);
    const graph::RunContext ctx = batch_context(graph_, true, static_cast<uint64_t>(step_), train, k);
    graph_.forward(ctx);
    accumulate_metrics(graph_, logits_, loss_, ignore_index_, items, roles, loss_sum_, correct_);
    graph_.backward(ctx);
    optimizer_.step(config_.schedule.at(step_, epoch - 1));
    ++step_;
    ++step_in_epoch;
    ++interval_steps_;
    interval_items_ += items;
    const bool last = k + 1 == steps_per_epoch;
    if (step_ % config_.log_every == 0 || last) {
      log(epoch, step_in_epoch, steps_per_epoch, seconds_since(start), last);
    }
  }
  EpochRecord r;
  r.epoch = epoch;
  r.step = step_;
  r.seconds = seconds_since(start);
  r.items_per_second = train.items() / std::max(r.seconds, 1e-9);
  r.train_loss = epoch_loss_ / std::max<int64_t>(epoch_items_, 1);
  r.train_accuracy = epoch_correct_ / std::max<int64_t>(epoch_items_, 1);
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

void Trainer::write_metrics(const EpochRecord& r, bool with_test) {
  nlohmann::json j = {{"epoch", r.epoch},
                      {"step", r.step},
                      {"train_loss", r.train_loss},
                      {"train_accuracy", r.train_accuracy},
                      {std::string(unit_) + "_per_second", r.items_per_second},
                      {"seconds", r.seconds},
                      {"lr", config_.schedule.at(step_ - 1, r.epoch - 1)}};
  if (perplexity_) j["train_perplexity"] = std::exp(r.train_loss);
  if (with_test) {
    j["test_loss"] = r.test_loss;
    j["test_accuracy"] = r.test_accuracy;
    if (perplexity_) j["test_perplexity"] = std::exp(r.test_loss);
  }
  run_->append_metrics(j.dump());
}

std::string Trainer::perplexity_text(double mean_loss) const {
  if (!perplexity_) return "";
  char text[48];
  std::snprintf(text, sizeof text, "  ppl %.2f", std::exp(mean_loss));
  return text;
}

std::vector<EpochRecord> Trainer::fit(BatchSource& train, BatchSource* test) {
  train.plan(config_.seed, 0, config_.batch_size);
  KILN_CHECK(train.batches() > 0, "the training set is empty");
  unit_ = train.unit();
  perplexity_ = train.perplexity();
  if (!started_) start();
  interrupted_ = false;
  const int64_t steps_per_epoch = train.batches();
  config_.schedule.total_steps = steps_per_epoch * config_.epochs;
  std::vector<EpochRecord> records;
  for (int epoch = epochs_done_ + 1; epoch <= config_.epochs; ++epoch) {
    const auto start = Clock::now();
    std::optional<EpochRecord> record = run_epoch(train, epoch);
    if (!record) {
      interrupted_ = true;
      break;
    }
    EpochRecord& r = *record;
    if (test) {
      const EvalResult e = evaluate(graph_, *test, config_.batch_size);
      KILN_CHECK(std::isfinite(e.loss), "the test loss after epoch ", epoch, " is ", e.loss,
                 " although the training loss is finite: the test ", unit_, " give non-finite ",
                 "inputs or activations (check the input normalisation)");
      r.test_loss = e.loss;
      r.test_accuracy = e.accuracy;
    }
    r.seconds = seconds_since(start);
    check_finite_weights(epoch);
    epochs_done_ = epoch;
    if (run_) {
      write_metrics(r, test != nullptr);  // before the commit: see run_dir.h
      commit(epoch, 0, {});
    }
    if (config_.progress) {
      std::fprintf(stderr, "epoch %d/%d  train loss %.4f%s  acc %.2f%%", epoch, config_.epochs,
                   r.train_loss, perplexity_text(r.train_loss).c_str(), 100 * r.train_accuracy);
      if (test) {
        std::fprintf(stderr, "  test loss %.4f%s  acc %.2f%%", r.test_loss,
                     perplexity_text(r.test_loss).c_str(), 100 * r.test_accuracy);
      }
      std::fprintf(stderr, "  %.0f %s/s  %.1f s\n", r.items_per_second, unit_abbreviation(unit_),
                   r.seconds);
    }
    records.push_back(r);
    if (on_epoch && !on_epoch(r)) break;
    if (epoch < config_.epochs && stop_now()) {
      interrupted_ = true;
      break;
    }
  }
  return records;
}

}  // namespace kiln::train
