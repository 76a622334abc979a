#include "text_model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>

#include "kiln/error.h"
#include "kiln/ops/elementwise.h"
#include "kiln/train/checkpoint.h"

namespace kiln::cli {

TextModel load_text_model(const TrainedModelOptions& o, std::string vocab_dir) {
  if (vocab_dir.empty()) vocab_dir = std::filesystem::path(o.weights).parent_path().string();
  if (vocab_dir.empty()) vocab_dir = ".";
  const train::TextTask task = train::saved_task(vocab_dir);
  train::TextVocabs vocabs = train::load_vocabs(task, vocab_dir, train::text_model_traits(o.model).features);
  const Device device = resolve_device(o.device);
  graph::GraphOptions options;
  options.engine = parse_engine(o.device.engine);
  options.deterministic = o.device.deterministic;
  graph::Graph graph =
      graph::load_model(o.model, device, options, nullptr, train::data_sizes(vocabs, task));
  train::load_weights(o.weights, graph);
  return {device, std::move(graph), task, std::move(vocabs)};
}

void add_vocab_option(CLI::App* cmd, std::string& vocab_dir) {
  cmd->add_option("--vocab", vocab_dir,
                  "run directory holding words.txt and tags.txt or labels.txt (default: the "
                  "directory of --weights)");
}

std::vector<std::vector<int32_t>> predict_classes(TextModel& model, const SequenceData& data,
                                                  const std::vector<std::vector<std::string>>& tokens,
                                                  int64_t batch_size) {
  KILN_CHECK(batch_size > 0 && batch_size <= INT32_MAX, "--batch-size must be in [1, 2^31), got ",
             batch_size);
  graph::Graph& graph = model.graph;
  const train::InputRoles roles = train::input_roles(graph);
  const bool per_token = model.task == train::TextTask::tagging;
  // Consecutive sequences per batch, so that results come back in corpus order.
  BatchPlan plan;
  const auto count = static_cast<int32_t>(data.lengths.size());
  for (int32_t s = 0; s < count; ++s) plan.order.push_back(s);
  for (int32_t first = 0; first < count; first += static_cast<int32_t>(batch_size)) {
    const int32_t size = std::min<int32_t>(static_cast<int32_t>(batch_size), count - first);
    const int32_t steps = *std::max_element(data.lengths.begin() + first, data.lengths.begin() + first + size);
    plan.batches.push_back({first, size, steps});
  }
  DeviceSequences device_data(data, model.device);
  device_data.set_plan(plan);
  std::map<std::string, std::unique_ptr<DeviceSequences>> features;
  for (const auto& [feature, vocab] : model.vocabs.features) {
    features[feature] = std::make_unique<DeviceSequences>(train::feature_data(data, tokens, feature, vocab), model.device);
    features[feature]->set_plan(plan);
  }
  const graph::RunContext ctx = graph.context(false, 0);
  std::vector<std::vector<int32_t>> out;
  Tensor lengths_scratch;
  for (const SequenceBatch& b : plan.batches) {
    graph.set_batch(b.size, b.steps);
    Tensor* lengths = &lengths_scratch;
    if (!roles.lengths.empty()) {
      lengths = &graph.input(roles.lengths);
    } else {
      lengths_scratch = Tensor({b.size}, model.device);
    }
    // The loss is not read; its labels are the data's when it has them, else padding.
    Tensor& labels = graph.input(roles.labels);
    ops::fill(labels, static_cast<float>(kPadTag));
    device_data.gather(b, graph.input(roles.data), data.tags.empty() ? nullptr : &labels,
                       data.labels.empty() ? nullptr : &labels, *lengths);
    for (const auto& [input, feature] : roles.features) {
      Tensor feature_lengths({b.size}, model.device);
      features.at(feature)->gather(b, graph.input(input), nullptr, nullptr, feature_lengths);
    }
    graph.forward(ctx);
    const Tensor& logits = graph.value(graph.loss_layer().inputs()[0]);
    const int64_t classes = logits.shape().back();
    const std::vector<float> values = logits.to_vector();
    for (int32_t i = 0; i < b.size; ++i) {
      const int32_t length = data.lengths[b.first + i];
      std::vector<int32_t> best;
      for (int32_t t = 0; t < (per_token ? length : 1); ++t) {
        const float* row = values.data() + (per_token ? (int64_t{t} * b.size + i) : i) * classes;
        best.push_back(static_cast<int32_t>(std::max_element(row, row + classes) - row));
      }
      out.push_back(std::move(best));
    }
  }
  graph.check_device_status();
  return out;
}

}  // namespace kiln::cli
