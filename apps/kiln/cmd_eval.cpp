// `kiln eval MODEL.yaml --weights FILE --data DIR`: loss and accuracy of a weights
// file on a split of an IDX data set, as one JSON object on stdout.
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/error.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/checkpoint.h"
#include "run_options.h"

namespace kiln::cli {

namespace {

struct EvalOptions {
  std::string model, weights, data, split = "test";
  DeviceOptions device;
  int64_t batch_size = 256;
  float mean = NAN, stddev = NAN;
};

void run_eval(const EvalOptions& o) {
  const Device device = resolve_device(o.device);
  graph::GraphOptions graph_options;
  graph_options.engine = parse_engine(o.device.engine);
  graph::Graph graph = graph::load_model(o.model, device, graph_options);
  const auto metadata = train::load_weights(o.weights, graph);
  const Normalisation norm = std::isnan(o.mean) ? normalisation_from(metadata, o.weights)
                                                : Normalisation{o.mean, o.stddev};
  const ImageDataset split = load_image_split(o.data, o.split);
  check_image_input(graph, split.images.rows, split.images.cols, o.model);
  DeviceDataset data(split, device, norm.mean, norm.stddev);
  train::DatasetSource<DeviceDataset> source(data);
  const train::EvalResult r = train::evaluate(graph, source, o.batch_size);
  std::cout << nlohmann::json{{"split", o.split}, {"images", r.images}, {"loss", r.loss},
                              {"accuracy", r.accuracy}}
                   .dump()
            << "\n";
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Loss and accuracy of trained weights on a data set");
  cmd->add_option("model", o->model, "model file (YAML)")->required();
  cmd->add_option("--weights", o->weights, "safetensors weights (RUN_DIR/model.safetensors)")
      ->required();
  cmd->add_option("--data", o->data, "directory with the IDX files")->required();
  cmd->add_option("--split", o->split, "train or test")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  add_device_options(cmd, o->device);
  cmd->add_option("--batch-size", o->batch_size, "images per forward pass")->capture_default_str();
  auto* mean = cmd->add_option("--mean", o->mean, "input mean (default: from the weights file)");
  cmd->add_option("--stddev", o->stddev, "input standard deviation")->needs(mean);
  mean->needs("--stddev");
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace kiln::cli
