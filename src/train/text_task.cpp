#include "kiln/train/text_task.h"

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

bool has_sequence_labels(const std::string& model_path) {
  // The vocabulary sizes do not change which inputs are sequences: any will do.
  graph::Graph probe = graph::load_model(model_path, Device::cpu(), {}, nullptr,
                                         {{"words", 2}, {"tags", 2}, {"labels", 2}});
  const std::string labels = input_roles(probe).labels;
  for (const graph::Layer* layer : probe.order()) {
    if (layer->name() == labels) return graph::is_sequence_input(*layer);
  }
  return false;
}

TextVocabs build_vocabs(TextTask task, const std::string& dir, int min_count) {
  KILN_CHECK(min_count >= 1, "--min-count must be at least 1, got ", min_count);
  const std::string path = split_path(task, dir, "train");
  require_file(path, dir);
  TextVocabs v;
  if (task == TextTask::language_model) {
    v.words = Vocab::build(VocabKind::words, lm_sequences(read_sentences(path)), min_count);
  } else if (task == TextTask::tagging) {
    const std::vector<TaggedSentence> sentences = read_tagged(path);
    v.words = Vocab::build(VocabKind::words, tagged_words(sentences, false), min_count);
    v.targets = Vocab::build(VocabKind::tags, tagged_words(sentences, true));
    const std::string declared = dir + "/tags.txt";
    if (fs::exists(declared)) v.targets->extend(Vocab::load(declared, VocabKind::tags).tokens());
  } else {
    const std::vector<LabelledText> texts = read_labelled(path);
    std::vector<std::vector<std::string>> words, labels;
    for (const LabelledText& t : texts) {
      words.push_back(t.tokens);
      labels.push_back({t.label});
    }
    v.words = Vocab::build(VocabKind::words, words, min_count);
    v.targets = Vocab::build(VocabKind::tags, labels);
  }
  return v;
}

void save_vocabs(const TextVocabs& vocabs, TextTask task, const std::string& run_dir) {
  vocabs.words->save(run_dir + "/words.txt");
  if (vocabs.targets) vocabs.targets->save(targets_file(task, run_dir));
}

TextVocabs load_vocabs(TextTask task, const std::string& run_dir) {
  TextVocabs v;
  v.words = Vocab::load(run_dir + "/words.txt", VocabKind::words);
  if (task != TextTask::language_model) {
    v.targets = Vocab::load(targets_file(task, run_dir), VocabKind::tags);
  }
  return v;
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
  const SequenceData data =
      task == TextTask::tagging
          ? encode_tagged(read_tagged(path_), *vocabs.words, *vocabs.targets, path_)
          : encode_labelled(read_labelled(path_), *vocabs.words, *vocabs.targets, path_);
  const std::vector<int32_t> bounds = default_bucket_bounds();
  check_lengths(data, bounds.back());
  sequences_ = static_cast<int64_t>(data.lengths.size());
  tokens_ = static_cast<int64_t>(data.ids.size());
  sequence_data_ = std::make_unique<DeviceSequences>(data, device);
  source_ = std::make_unique<SequenceSource>(*sequence_data_, bounds);
}

}  // namespace kiln::train
