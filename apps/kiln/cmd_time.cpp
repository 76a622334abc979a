// `kiln time MODEL.yaml`: per-layer forward and backward times of a model on one
// device, measured with device events around each layer (as `caffe time` does),
// on random inputs, after warm-up iterations.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "commands.h"
#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/graph/model_file.h"
#include "kiln/ops/elementwise.h"
#include "kiln/runtime.h"
#include "run_options.h"

namespace kiln::cli {

namespace {

struct TimeOptions {
  std::string model;
  DeviceOptions device;
  int64_t batch_size = 64;
  int iterations = 10, warmup = 2;
};

// Records an event before and after each layer's pass; accumulates the times.
class EventTimer final : public graph::LayerObserver {
 public:
  EventTimer(Device device, const std::vector<graph::Layer*>& order) : device_(device) {
    for (graph::Layer* layer : order) index_[layer] = slots_.size(), slots_.emplace_back(device);
  }
  void begin(const graph::Layer& layer, bool backward) override {
    slot(layer).events[backward ? 2 : 0]->record();
  }
  void end(const graph::Layer& layer, bool backward) override {
    Slot& s = slot(layer);
    s.events[backward ? 3 : 1]->record();
    s.ran[backward] = true;
  }
  // After an iteration: waits for the device and adds each pass's time.
  void collect() {
    rt::synchronize(device_);
    for (Slot& s : slots_) {
      for (int pass = 0; pass < 2; ++pass) {
        if (!s.ran[pass]) continue;
        s.total_ms[pass] += s.events[2 * pass + 1]->elapsed_ms(*s.events[2 * pass]);
        s.ran[pass] = false;
      }
    }
  }
  void reset() {
    for (Slot& s : slots_) s.total_ms[0] = s.total_ms[1] = 0;
  }
  double forward_ms(const graph::Layer& l) { return slot(l).total_ms[0]; }
  double backward_ms(const graph::Layer& l) { return slot(l).total_ms[1]; }

 private:
  struct Slot {
    explicit Slot(Device d) {
      for (auto& e : events) e = std::make_unique<rt::Event>(d);
    }
    std::unique_ptr<rt::Event> events[4];  // forward begin/end, backward begin/end
    bool ran[2] = {false, false};
    double total_ms[2] = {0, 0};
  };
  Slot& slot(const graph::Layer& l) { return slots_[index_.at(&l)]; }

  Device device_;
  std::vector<Slot> slots_;
  std::map<const graph::Layer*, size_t> index_;
};

void fill_inputs(graph::Graph& graph) {
  const graph::Layer& loss = graph.loss_layer();
  const int64_t classes = graph.shape(loss.inputs()[0]).at(1);
  for (const std::string& name : graph.input_names()) {
    Tensor& t = graph.input(name);
    if (name != loss.inputs()[1]) {
      ops::uniform(t, 1, 0, -1.0f, 1.0f);
      continue;
    }
    std::vector<float> labels(t.numel());
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % classes);
    t.copy_from(Tensor::from_vector(labels, t.shape(), Device::cpu()));
  }
}

void run_time(const TimeOptions& o) {
  KILN_CHECK(o.iterations > 0 && o.warmup >= 0, "--iterations must be > 0 and --warmup >= 0");
  const Device device = resolve_device(o.device);
  graph::GraphOptions graph_options;
  graph_options.engine = parse_engine(o.device.engine);
  graph_options.deterministic = o.device.deterministic;
  graph::Graph graph = graph::load_model(o.model, device, graph_options);
  graph.set_batch(o.batch_size);
  fill_inputs(graph);
  EventTimer timer(device, graph.order());
  graph.set_observer(&timer);
  for (int i = 0; i < o.warmup + o.iterations; ++i) {
    if (i == o.warmup) timer.reset();
    const graph::RunContext ctx = graph.context(true, static_cast<uint64_t>(i));
    graph.forward(ctx);
    graph.backward(ctx);
    timer.collect();
  }
  graph.set_observer(nullptr);
  std::printf("kiln time: %s on %s (engine %s), batch %lld, %d iterations after %d warm-up\n",
              o.model.c_str(), device.str().c_str(), o.device.engine.c_str(),
              static_cast<long long>(o.batch_size), o.iterations, o.warmup);
  std::printf("%-16s %-22s %12s %12s\n", "layer", "type", "forward ms", "backward ms");
  double forward = 0, backward = 0;
  for (const graph::Layer* layer : graph.order()) {
    if (graph::is_input_layer(*layer)) continue;
    const double f = timer.forward_ms(*layer) / o.iterations;
    const double b = timer.backward_ms(*layer) / o.iterations;
    forward += f, backward += b;
    std::printf("%-16s %-22s %12.4f %12.4f\n", layer->name().c_str(), layer->type(), f, b);
  }
  std::printf("%-39s %12.4f %12.4f\n", "total per iteration", forward, backward);
  std::printf("forward-backward: %.4f ms per iteration, %.0f images/s\n", forward + backward,
              o.batch_size * 1000.0 / std::max(forward + backward, 1e-9));
}

}  // namespace

void add_time_command(CLI::App& app) {
  auto o = std::make_shared<TimeOptions>();
  CLI::App* cmd =
      app.add_subcommand("time", "Per-layer forward/backward timing of a model (like caffe time)");
  cmd->add_option("model", o->model, "model file (YAML)")->required();
  add_device_options(cmd, o->device);
  cmd->add_option("--batch-size", o->batch_size, "images per iteration")->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "timed iterations")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed iterations first")->capture_default_str();
  cmd->callback([o] { run_time(*o); });
}

}  // namespace kiln::cli
