// Options shared by the train, eval, predict and time commands, and the helpers
// that turn them into kiln objects.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "kiln/data/dataset.h"
#include "kiln/graph/graph.h"
#include "kiln/train/trainer.h"

namespace kiln::cli {

struct DeviceOptions {
  std::string device = "auto";
  std::string engine = "native";
  bool deterministic = false;
};

// --device auto|cpu|simt|cuda[:N], --engine native|cudnn and --deterministic.
void add_device_options(CLI::App* cmd, DeviceOptions& o);
// auto: the first GPU if there is one, else cpu. A requested device that is not
// available gives kiln's error saying what to do.
Device resolve_device(const DeviceOptions& o);

struct Normalisation {
  float mean = 0, stddev = 1;
};
// Mean and standard deviation of the pixels (scaled to [0, 1]) of a data set.
Normalisation pixel_statistics(const ImageDataset& data);
// Checkpoint metadata keys that carry the normalisation used in training.
std::map<std::string, std::string> normalisation_metadata(const Normalisation& n);
// The normalisation stored with a weights file; throws if absent, naming the options.
Normalisation normalisation_from(const std::map<std::string, std::string>& metadata,
                                 const std::string& weights_path);

// A model file with trained weights, as eval and predict take them.
struct TrainedModelOptions {
  std::string model, weights;
  DeviceOptions device;
  int64_t batch_size = 256;
  float mean = NAN, stddev = NAN;  // NaN: the normalisation stored with the weights
};
// MODEL positional, --weights, --device, --engine, and with `batched_inputs` --batch-size and
// --mean/--stddev (generate feeds one token at a time and no images, so it has neither).
void add_trained_model_options(CLI::App* cmd, TrainedModelOptions& o, bool batched_inputs = true);

struct TrainedModel {
  Device device;
  graph::Graph graph;
  Normalisation norm;
};
TrainedModel load_trained_model(const TrainedModelOptions& o);

// Checks that the model's image input fits images of rows x cols, naming both.
void check_image_input(const graph::Graph& graph, int rows, int cols, const std::string& model);
// The name of the image input layer (the input that is not the loss head's labels).
std::string image_input_name(const graph::Graph& graph);

}  // namespace kiln::cli
