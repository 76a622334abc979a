// `kiln predict MODEL.yaml --weights FILE --images IDX_FILE [--count N]`: class
// probabilities of each image as JSON lines on stdout:
//   {"index": 0, "class": 7, "probabilities": [p0, ..., p9]}
// `kiln predict MODEL.yaml --weights RUN/model.safetensors --text FILE`: a tagger's
// `token<TAB>tag` lines (a blank line after each sentence), a text classifier's
// `label<TAB>text` lines.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/data/idx.h"
#include "kiln/error.h"
#include "kiln/data/text.h"
#include "run_options.h"
#include "text_model.h"

namespace kiln::cli {

namespace {

struct PredictOptions {
  TrainedModelOptions trained;
  std::string images, text, vocab;
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

// Taggers: `token<TAB>tag` per token, a blank line after each sentence; classifiers:
// `label<TAB>text` per line.
void run_text_predict(const PredictOptions& o) {
  TextModel m = load_text_model(o.trained, o.vocab);
  KILN_CHECK(m.task != train::TextTask::language_model, o.trained.model,
             " is a language model: it predicts next words (use kiln generate)");
  std::vector<TextLine> lines = read_sentences(o.text);
  if (o.count >= 0 && o.count < static_cast<int64_t>(lines.size())) lines.resize(static_cast<std::size_t>(o.count));
  const SequenceData data = encode_sentences(lines, *m.vocabs.words, o.text);
  check_lengths(data, default_bucket_bounds().back());
  std::vector<std::vector<std::string>> tokens;
  for (const TextLine& line : lines) tokens.push_back(line.tokens);
  const std::vector<std::vector<int32_t>> predicted = predict_classes(m, data, tokens, o.trained.batch_size);
  const Vocab& classes = *m.vocabs.targets;
  for (std::size_t s = 0; s < lines.size(); ++s) {
    if (m.task == train::TextTask::tagging) {
      for (std::size_t t = 0; t < lines[s].tokens.size(); ++t) {
        std::cout << lines[s].tokens[t] << '\t' << classes.token(predicted[s][t]) << '\n';
      }
      std::cout << '\n';
    } else {
      std::cout << classes.token(predicted[s][0]) << '\t';
      for (std::size_t t = 0; t < lines[s].tokens.size(); ++t) std::cout << (t ? " " : "") << lines[s].tokens[t];
      std::cout << '\n';
    }
  }
}

void run_predict(const PredictOptions& o) {
  KILN_CHECK(o.images.empty() != o.text.empty(), "give --images IDX_FILE (image models) or --text ",
             "FILE (taggers and text classifiers), not both");
  if (!o.text.empty()) return run_text_predict(o);
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
  CLI::App* cmd = app.add_subcommand(
      "predict", "Class probabilities of IDX images as JSON lines, or the tags (labels) of text");
  add_trained_model_options(cmd, o->trained);
  cmd->add_option("--images", o->images, "IDX image file (plain or gzip)");
  cmd->add_option("--text", o->text,
                  "text file, one sentence (or text) per line, tokens separated by spaces: "
                  "prints token<TAB>tag lines (taggers) or label<TAB>text (classifiers)");
  add_vocab_option(cmd, o->vocab);
  cmd->add_option("--count", o->count, "only the first N images or lines")->check(CLI::NonNegativeNumber);
  cmd->callback([o] { run_predict(*o); });
}

}  // namespace kiln::cli
