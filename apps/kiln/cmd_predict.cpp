// `kiln predict MODEL.yaml --weights FILE --images IDX_FILE [--count N]`: class
// probabilities of each image as JSON lines on stdout:
//   {"index": 0, "class": 7, "probabilities": [p0, ..., p9]}
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/data/idx.h"
#include "kiln/error.h"
#include "run_options.h"

namespace kiln::cli {

namespace {

struct PredictOptions {
  TrainedModelOptions trained;
  std::string images;
  int64_t count = -1;
};

// Softmax of one row in double (output formatting on the host, after the device work).
std::vector<double> softmax(const float* logits, int64_t classes) {
  const float top = *std::max_element(logits, logits + classes);
  std::vector<double> p(classes);
  double total = 0;
  for (int64_t c = 0; c < classes; ++c) total += p[c] = std::exp(static_cast<double>(logits[c]) - top);
  for (double& v : p) v /= total;
  return p;
}

void run_predict(const PredictOptions& o) {
  TrainedModel m = load_trained_model(o.trained);
  graph::Graph& graph = m.graph;
  ImageDataset set;
  set.images = read_idx_images(o.images);
  KILN_CHECK(o.count <= set.images.count, "--count ", o.count, " but ", o.images, " holds ",
             set.images.count, " images");
  if (o.count >= 0) {
    set.images.count = o.count;
    set.images.pixels.resize(static_cast<size_t>(o.count) * set.images.rows * set.images.cols);
  }
  const graph::Layer& loss = graph.loss_layer();
  const std::string logits = loss.inputs()[0], labels = loss.inputs()[1];
  set.classes = static_cast<int>(graph.shape(logits).at(1));
  set.labels.assign(set.images.count, 0);  // unused: predict reads only the logits
  check_image_input(graph, set.images.rows, set.images.cols, o.trained.model);
  DeviceDataset data(set, m.device, m.norm.mean, m.norm.stddev);
  const std::string images = image_input_name(graph);
  const graph::RunContext ctx = graph.context(false, 0);
  for (int64_t first = 0; first < data.size(); first += o.trained.batch_size) {
    const int64_t batch = std::min(o.trained.batch_size, data.size() - first);
    graph.set_batch(batch);
    data.gather(first, graph.input(images), graph.input(labels));
    graph.forward(ctx);
    const std::vector<float> values = graph.value(logits).to_vector();
    for (int64_t b = 0; b < batch; ++b) {
      const std::vector<double> p = softmax(values.data() + b * set.classes, set.classes);
      const auto best = std::max_element(p.begin(), p.end()) - p.begin();
      std::cout << nlohmann::json{{"index", first + b}, {"class", best}, {"probabilities", p}}.dump()
                << "\n";
    }
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand("predict", "Class probabilities of IDX images as JSON lines");
  add_trained_model_options(cmd, o->trained);
  cmd->add_option("--images", o->images, "IDX image file (plain or gzip)")
      ->required();
  cmd->add_option("--count", o->count, "only the first N images")->check(CLI::NonNegativeNumber);
  cmd->callback([o] { run_predict(*o); });
}

}  // namespace kiln::cli
