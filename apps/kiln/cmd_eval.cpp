// `kiln eval MODEL.yaml --weights FILE --data DIR`: loss and accuracy of a weights
// file on a split of an IDX or text data set, as one JSON object on stdout (text: per
// token or text; language models add the perplexity, taggers the accuracy on words
// the training split never shows).
#include <cmath>
#include <iostream>
#include <set>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/error.h"
#include "input_checks.h"
#include "kiln/data/text.h"
#include "run_options.h"
#include "text_model.h"

namespace kiln::cli {

namespace {

struct EvalOptions {
  TrainedModelOptions trained;
  std::string data, split = "test", vocab;
};

// Accuracy on the tokens whose word never occurs in the training split.
nlohmann::json unseen_word_accuracy(TextModel& m, const EvalOptions& o, const std::string& path) {
  std::set<std::string> seen;
  for (const TaggedSentence& s : read_tagged(o.data + "/train.tsv")) seen.insert(s.tokens.begin(), s.tokens.end());
  const std::vector<TaggedSentence> sentences = read_tagged(path);
  const SequenceData data = encode_tagged(sentences, *m.vocabs.words, *m.vocabs.targets, path);
  std::vector<std::vector<std::string>> tokens;
  for (const TaggedSentence& s : sentences) tokens.push_back(s.tokens);
  const std::vector<std::vector<int32_t>> predicted = predict_classes(m, data, tokens, o.trained.batch_size);
  int64_t unseen = 0, correct = 0;
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    for (std::size_t t = 0; t < sentences[s].tokens.size(); ++t) {
      if (seen.count(sentences[s].tokens[t])) continue;
      ++unseen;
      correct += predicted[s][t] == data.tags[static_cast<std::size_t>(data.offsets[s]) + t];
    }
  }
  return {{"unseen_tokens", unseen}, {"unseen_accuracy", unseen ? double(correct) / unseen : 0.0}};
}

void run_text_eval(const EvalOptions& o) {
  TextModel m = load_text_model(o.trained, o.vocab);
  train::TextSplit split(m.task, o.data, o.split, m.vocabs, m.device, o.trained.batch_size, 35);
  const train::EvalResult r = train::evaluate(m.graph, split.source(), o.trained.batch_size);
  nlohmann::json j{{"split", o.split}, {split.source().unit(), r.items}, {"loss", r.loss},
                   {"accuracy", r.accuracy}};
  if (split.source().perplexity()) j["perplexity"] = std::exp(r.loss);
  if (m.task == train::TextTask::tagging) j.update(unseen_word_accuracy(m, o, split.path()));
  std::cout << j.dump() << "\n";
}

void run_eval(const EvalOptions& o) {
  if (train::is_text_data(o.data)) return run_text_eval(o);
  TrainedModel m = load_trained_model(o.trained);
  const ImageDataset split = load_image_split(o.data, o.split);
  check_image_input(m.graph, split.images.rows, split.images.cols, o.trained.model);
  check_labels(m.graph, split, o.data, o.split);
  DeviceDataset data(split, m.device, m.norm.mean, m.norm.stddev);
  train::DatasetSource<DeviceDataset> source(data);
  const train::EvalResult r = train::evaluate(m.graph, source, o.trained.batch_size);
  KILN_CHECK(std::isfinite(r.loss), "eval: the loss on ", r.items, " images is ", r.loss,
             ": the weights or the input normalisation (mean ", m.norm.mean, ", stddev ",
             m.norm.stddev, ") give non-finite activations");
  std::cout << nlohmann::json{{"split", o.split}, {"images", r.items}, {"loss", r.loss},
                              {"accuracy", r.accuracy}}
                   .dump()
            << "\n";
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Loss and accuracy of trained weights on a data set");
  add_trained_model_options(cmd, o->trained);
  cmd->add_option("--data", o->data, "directory with the IDX files or the text splits")->required();
  add_vocab_option(cmd, o->vocab);
  cmd->add_option("--split", o->split, "train or test (text data sets: also dev or valid)")
      ->check(CLI::IsMember({"train", "test", "dev", "valid"}))
      ->capture_default_str();
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace kiln::cli
