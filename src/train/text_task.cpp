#include "kiln/train/text_task.h"

#include <algorithm>
#include <filesystem>

#include "kiln/data/text.h"
#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/train/sequence_sources.h"

namespace kiln::train {

namespace {

namespace fs = std::filesystem;

std::string split_path(TextTask task, const std::string& dir, const std::string& split) {
  return dir + "/" + split + (task == TextTask::language_model ? ".txt" : ".tsv");
}

std::string targets_file(TextTask task, const std::string& run_dir) {
  return run_dir + (task == TextTask::tagging ? "/tags.txt" : "/labels.txt");
}

void require_file(const std::string& path, const std::string& dir) {
  KILN_CHECK(fs::is_regular_file(path), path, " does not exist: ", dir,
             " holds no such split (docs/DATA.md lists each task's files; ",
             "scripts/fetch_data.sh writes kiln's data sets)");
}

// Token sequences of a tagging or classification split, for building vocabularies.
std::vector<std::vector<std::string>> tagged_words(const std::vector<TaggedSentence>& sentences,
                                                   bool tags) {
  std::vector<std::vector<std::string>> out;
  for (const TaggedSentence& s : sentences) out.push_back(tags ? s.tags : s.tokens);
  return out;
}

}  // namespace

const char* text_task_name(TextTask task) {
  switch (task) {
    case TextTask::tagging: return "tagging";
    case TextTask::classification: return "classification";
    case TextTask::language_model: return "language_model";
  }
  return "?";
}

bool is_text_data(const std::string& dir) {
  return fs::exists(dir + "/train.tsv") || fs::exists(dir + "/train.txt");
}

TextTask text_task(const std::string& dir, bool sequence_labels) {
  if (fs::exists(dir + "/train.txt")) return TextTask::language_model;
  return sequence_labels ? TextTask::tagging : TextTask::classification;
}

TextModelTraits text_model_traits(const std::string& model_path) {
  // The vocabulary sizes change nothing of what is asked here: any will do.
  graph::DataSizes sizes{{"words", 2}, {"tags", 2}, {"labels", 2}};
  for (const char* feature : {"lower", "suffix2", "suffix3", "shape"}) sizes[feature] = 2;
  graph::Graph probe = graph::load_model(model_path, Device::cpu(), {}, nullptr, sizes);
  const InputRoles roles = input_roles(probe);
  TextModelTraits traits;
  for (const graph::Layer* layer : probe.order()) {
    if (layer->name() == roles.labels) traits.sequence_labels = graph::is_sequence_input(*layer);
  }
  for (const auto& [input, feature] : roles.features) traits.features.push_back(feature);
  std::sort(traits.features.begin(), traits.features.end());
  traits.features.erase(std::unique(traits.features.begin(), traits.features.end()),
                        traits.features.end());
  return traits;
}

namespace {

std::string feature_file(const std::string& run_dir, const std::string& feature) {
  return run_dir + "/feature." + feature + ".txt";
}

// The feature values of every token of `tokens`.
std::vector<std::vector<std::string>> feature_values(const std::vector<std::vector<std::string>>& tokens,
                                                     const std::string& feature) {
  std::vector<std::vector<std::string>> values;
  for (const std::vector<std::string>& sequence : tokens) {
    values.emplace_back();
    for (const std::string& token : sequence) values.back().push_back(token_feature(feature, token));
  }
  return values;
}

}  // namespace

TextVocabs build_vocabs(TextTask task, const std::string& dir, int min_count,
                        const std::vector<std::string>& features) {
  KILN_CHECK(min_count >= 1, "--min-count must be at least 1, got ", min_count);
  const std::string path = split_path(task, dir, "train");
  require_file(path, dir);
  TextVocabs v;
  KILN_CHECK(features.empty() || task != TextTask::language_model,
             "token features are for taggers and classifiers, not language models");
  std::vector<std::vector<std::string>> words;
  if (task == TextTask::language_model) {
    v.words = Vocab::build(VocabKind::words, lm_sequences(read_sentences(path)), min_count);
  } else if (task == TextTask::tagging) {
    const std::vector<TaggedSentence> sentences = read_tagged(path);
    words = tagged_words(sentences, false);
    v.words = Vocab::build(VocabKind::words, words, min_count);
    v.targets = Vocab::build(VocabKind::tags, tagged_words(sentences, true));
    const std::string declared = dir + "/tags.txt";
    if (fs::exists(declared)) v.targets->extend(Vocab::load(declared, VocabKind::tags).tokens());
  } else {
    const std::vector<LabelledText> texts = read_labelled(path);
    std::vector<std::vector<std::string>> labels;
    for (const LabelledText& t : texts) {
      words.push_back(t.tokens);
      labels.push_back({t.label});
    }
    v.words = Vocab::build(VocabKind::words, words, min_count);
    v.targets = Vocab::build(VocabKind::tags, labels);
  }
  for (const std::string& feature : features) {
    v.features.emplace(feature, Vocab::build(VocabKind::words, feature_values(words, feature), min_count));
  }
  return v;
}

void save_vocabs(const TextVocabs& vocabs, TextTask task, const std::string& run_dir) {
  vocabs.words->save(run_dir + "/words.txt");
  if (vocabs.targets) vocabs.targets->save(targets_file(task, run_dir));
  for (const auto& [feature, vocab] : vocabs.features) vocab.save(feature_file(run_dir, feature));
}

TextVocabs load_vocabs(TextTask task, const std::string& run_dir,
                       const std::vector<std::string>& features) {
  TextVocabs v;
  v.words = Vocab::load(run_dir + "/words.txt", VocabKind::words);
  if (task != TextTask::language_model) {
    v.targets = Vocab::load(targets_file(task, run_dir), VocabKind::tags);
  }
  for (const std::string& feature : features) {
    v.features.emplace(feature, Vocab::load(feature_file(run_dir, feature), VocabKind::words));
  }
  return v;
}

SequenceData feature_data(const SequenceData& words,
                          const std::vector<std::vector<std::string>>& tokens,
                          const std::string& feature, const Vocab& vocab) {
  SequenceData out = words;
  out.tags.clear();  // the ids alone: targets come with the words
  out.labels.clear();
  for (std::size_t s = 0; s < tokens.size(); ++s) {
    for (int32_t t = 0; t < words.lengths[s]; ++t) {
      out.ids[static_cast<std::size_t>(words.offsets[s] + t)] = vocab.id(token_feature(feature, tokens[s][t]));
    }
  }
  return out;
}

TextTask saved_task(const std::string& run_dir) {
  KILN_CHECK(fs::exists(run_dir + "/words.txt"), run_dir, "/words.txt does not exist: the ",
             "vocabulary of a text model lives in its run directory (give --vocab RUN_DIR)");
  if (fs::exists(targets_file(TextTask::tagging, run_dir))) return TextTask::tagging;
  if (fs::exists(targets_file(TextTask::classification, run_dir))) return TextTask::classification;
  return TextTask::language_model;
}

graph::DataSizes data_sizes(const TextVocabs& vocabs, TextTask task) {
  graph::DataSizes sizes{{"words", vocabs.words->size()}};
  if (task == TextTask::tagging) sizes["tags"] = vocabs.targets->size();
  if (task == TextTask::classification) sizes["labels"] = vocabs.targets->size();
  for (const auto& [feature, vocab] : vocabs.features) sizes[feature] = vocab.size();
  return sizes;
}

TextSplit::TextSplit(TextTask task, const std::string& dir, const std::string& split,
                     const TextVocabs& vocabs, Device device, int64_t batch_size, int32_t bptt)
    : path_(split_path(task, dir, split)) {
  require_file(path_, dir);
  if (task == TextTask::language_model) {
    const std::vector<TextLine> sentences = read_sentences(path_);
    const std::vector<int32_t> text = encode_stream(sentences, *vocabs.words);
    KILN_CHECK(batch_size <= INT32_MAX, "--batch-size ", batch_size, " is too large");
    sequences_ = static_cast<int64_t>(sentences.size());
    tokens_ = static_cast<int64_t>(text.size());
    stream_data_ = std::make_unique<DeviceTokenStreams>(text, static_cast<int32_t>(batch_size), device);
    source_ = std::make_unique<StreamSource>(*stream_data_, bptt);
    return;
  }
  std::vector<std::vector<std::string>> tokens;
  SequenceData data;
  if (task == TextTask::tagging) {
    const std::vector<TaggedSentence> sentences = read_tagged(path_);
    tokens = tagged_words(sentences, false);
    data = encode_tagged(sentences, *vocabs.words, *vocabs.targets, path_);
  } else {
    const std::vector<LabelledText> texts = read_labelled(path_);
    data = encode_labelled(texts, *vocabs.words, *vocabs.targets, path_);
    for (const LabelledText& t : texts) tokens.push_back(t.tokens);
  }
  const std::vector<int32_t> bounds = default_bucket_bounds();
  check_lengths(data, bounds.back());
  sequences_ = static_cast<int64_t>(data.lengths.size());
  tokens_ = static_cast<int64_t>(data.ids.size());
  sequence_data_ = std::make_unique<DeviceSequences>(data, device);
  std::map<std::string, DeviceSequences*> features;
  for (const auto& [feature, vocab] : vocabs.features) {
    auto& slot = feature_data_[feature];
    slot = std::make_unique<DeviceSequences>(feature_data(data, tokens, feature, vocab), device);
    features[feature] = slot.get();
  }
  source_ = std::make_unique<SequenceSource>(*sequence_data_, bounds, std::move(features));
}

}  // namespace kiln::train
