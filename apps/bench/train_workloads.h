// The training steps kiln_bench_train times: for each shipped model, a kiln step on a
// device (the model file's graph, its recipe's optimiser) and the same step in libtorch
// (CPU, torch::nn modules of the same architecture and optimiser), on fixed synthetic
// inputs of the model's shape.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/device.h"
#include "kiln/graph/graph.h"
#include "kiln/train/optimizer.h"

namespace kiln::bench {

// A kiln training step ready to run: the graph with its inputs filled and an optimiser.
struct KilnStep {
  KilnStep(graph::Graph built, const train::OptimizerConfig& config, float lr, bool carry_state)
      : graph(std::move(built)), optimizer(config, graph.params(), graph.device()), lr(lr),
        carry_state(carry_state) {}
  // Forward, backward and one optimiser update.
  void run() {
    graph::RunContext ctx = graph.context(true, steps);
    ctx.carry_state = carry_state && steps > 0;
    ++steps;
    graph.forward(ctx);
    graph.backward(ctx);
    optimizer.step(lr);
  }

  graph::Graph graph;
  train::Optimizer optimizer;
  float lr;
  bool carry_state;  // language models: the LSTM state runs on from step to step (BPTT)
  uint64_t steps = 0;
};

struct Workload {
  std::string name;  // models/NAME.yaml
  std::string unit;  // what items_per_step counts: "images" or "tokens"
  int64_t items_per_step = 0;
  int repeats = 50;     // timed steps per round unless --repeats says otherwise
  double gflop = 0;     // GEMM work of one step (0: not counted)
  std::function<std::unique_ptr<KilnStep>(const Device&)> kiln;
  std::function<std::function<void()>()> torch;  // makes the libtorch step; empty without libtorch
};

// Sizes of the text workloads; brown_text_shape() fills in the vocabularies `kiln train`
// builds from data/brown-pos (min count 2) and data/brown-lm.
struct TextShape {
  int64_t tagger_batch = 32, tagger_steps = 25;
  int64_t tagger_words = 0, tagger_lower = 0, tagger_suffix2 = 0, tagger_suffix3 = 0,
          tagger_shape = 0, tagger_tags = 0;
  int64_t lm_batch = 64, lm_bptt = 35, lm_words = 0;
};
TextShape brown_text_shape();

std::vector<std::string> cnn_models();
std::vector<std::string> text_models();
Workload cnn_workload(const std::string& name, int64_t batch);
Workload text_workload(const std::string& name, const TextShape& shape);

// `numel` random ids in [first, size) from Philox stream `stream`, as the floats kiln reads.
std::vector<float> random_ids(int64_t numel, int64_t first, int64_t size, uint64_t stream);

}  // namespace kiln::bench
