#include "run_options.h"

#include <cmath>

#include "kiln/error.h"
#include "kiln/graph/model_file.h"
#include "kiln/ops/engine.h"
#include "kiln/train/checkpoint.h"
#include "validators.h"

namespace kiln::cli {

void add_device_options(CLI::App* cmd, DeviceOptions& o) {
  cmd->add_option("--device", o.device,
                  "auto (a GPU if present, else cpu), cpu, simt (kiln's CUDA kernels on the "
                  "emulator: slow) or cuda[:N]")
      ->capture_default_str();
  cmd->add_option("--engine", o.engine, "native (kiln's kernels) or cudnn (cuda only)")
      ->check(CLI::IsMember({"native", "cudnn"}))
      ->capture_default_str();
  cmd->add_flag("--deterministic", o.deterministic,
                "with --engine cudnn, only deterministic convolution algorithms (bit-identical "
                "reruns, maybe slower); kiln's own kernels are always deterministic");
}

Device resolve_device(const DeviceOptions& o) {
  const Device d = o.device == "auto" ? best_device() : Device::parse(o.device);
  require_available(d);
  check_engine("--engine", parse_engine(o.engine), d);
  return d;
}

Normalisation pixel_statistics(const ImageDataset& data) {
  double sum = 0, squares = 0;
  for (uint8_t p : data.images.pixels) {
    const double v = p / 255.0;
    sum += v;
    squares += v * v;
  }
  const double n = std::max<double>(1, data.images.pixels.size());
  const double mean = sum / n;
  const double variance = std::max(0.0, squares / n - mean * mean);
  Normalisation out;
  out.mean = static_cast<float>(mean);
  out.stddev = static_cast<float>(variance > 0 ? std::sqrt(variance) : 1.0);
  return out;
}

std::map<std::string, std::string> normalisation_metadata(const Normalisation& n) {
  return {{"kiln.input_mean", std::to_string(n.mean)},
          {"kiln.input_stddev", std::to_string(n.stddev)}};
}

Normalisation normalisation_from(const std::map<std::string, std::string>& metadata,
                                 const std::string& weights_path) {
  const auto mean = metadata.find("kiln.input_mean"), stddev = metadata.find("kiln.input_stddev");
  KILN_CHECK(mean != metadata.end() && stddev != metadata.end(), weights_path,
             " does not record the input normalisation (kiln.input_mean, kiln.input_stddev); ",
             "give it with --mean and --stddev (pixels scaled to [0, 1])");
  return {train::parse_float(mean->second, weights_path + ": metadata kiln.input_mean"),
          train::parse_float(stddev->second, weights_path + ": metadata kiln.input_stddev")};
}

std::string image_input_name(const graph::Graph& graph) {
  const std::string labels = graph.loss_layer().inputs()[1];
  for (const std::string& name : graph.input_names()) {
    if (name != labels) return name;
  }
  throw Error("the model has no image input layer besides the labels '" + labels + "'");
}

void check_image_input(const graph::Graph& graph, int rows, int cols, const std::string& model) {
  const std::string images = image_input_name(graph);
  const Shape& shape = graph.shape(images);
  KILN_CHECK(shape == (Shape{shape[0], 1, rows, cols}), model, ": input '", images,
             "' expects images ", shape_str(Shape(shape.begin() + 1, shape.end())),
             " but the data has [1, ", rows, ", ", cols, "]");
}

void add_trained_model_options(CLI::App* cmd, TrainedModelOptions& o, bool batched_inputs) {
  cmd->add_option("model", o.model, "model file (YAML)")->required();
  cmd->add_option("--weights", o.weights, "safetensors weights (RUN_DIR/model.safetensors)")
      ->required();
  add_device_options(cmd, o.device);
  if (!batched_inputs) return;
  cmd->add_option("--batch-size", o.batch_size, "images or sentences per forward pass")
      ->capture_default_str();
  auto* mean = cmd->add_option("--mean", o.mean, "input mean (default: from the weights file)")
                   ->check(finite_number());
  cmd->add_option("--stddev", o.stddev, "input standard deviation")
      ->check(positive_number())
      ->needs(mean);
  mean->needs("--stddev");
}

TrainedModel load_trained_model(const TrainedModelOptions& o) {
  const Device device = resolve_device(o.device);
  graph::GraphOptions graph_options;
  graph_options.engine = parse_engine(o.device.engine);
  graph_options.deterministic = o.device.deterministic;
  graph::Graph graph = graph::load_model(o.model, device, graph_options);
  const auto metadata = train::load_weights(o.weights, graph);
  const Normalisation norm = std::isnan(o.mean) ? normalisation_from(metadata, o.weights)
                                                : Normalisation{o.mean, o.stddev};
  return {device, std::move(graph), norm};
}

}  // namespace kiln::cli
