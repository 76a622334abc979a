// Text data sets as kiln train, eval, predict and generate read them (docs/DATA.md):
// the task a data directory and a model call for, the vocabularies (built from the
// training split and kept in the run directory), and each split on the device with the
// trainer's batch source for it.
//   tagging          DIR/{train,test}.tsv: `token<TAB>tag`, blank line between sentences;
//                    DIR/tags.txt (optional) declares tags that train may lack
//   classification   DIR/{train,test}.tsv: `label<TAB>text`
//   language_model   DIR/{train,test}.txt: one sentence per line
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/data/sequence_dataset.h"
#include "kiln/data/vocab.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/trainer.h"

namespace kiln::train {

enum class TextTask { tagging, classification, language_model };
const char* text_task_name(TextTask task);

// Whether DIR holds a text data set (train.tsv or train.txt) rather than IDX images.
bool is_text_data(const std::string& dir);
// language_model when DIR has train.txt; otherwise tagging when `sequence_labels` (the
// model's loss compares per-step outputs with per-token labels), else classification.
TextTask text_task(const std::string& dir, bool sequence_labels);

// What the data pipeline must know of a model file before it is built.
struct TextModelTraits {
  // The loss compares per-step outputs with per-token labels (a tagger or language
  // model) rather than one label per sequence.
  bool sequence_labels = false;
  std::vector<std::string> features;  // token features its inputs take (text.h), sorted
};
TextModelTraits text_model_traits(const std::string& model_path);

struct TextVocabs {
  std::optional<Vocab> words;
  std::optional<Vocab> targets;  // tags or class labels; none for language models
  std::map<std::string, Vocab> features;  // by token feature
};
// From DIR's training split: words (and each feature's values) seen at least
// `min_count` times (the others become <unk>); every tag of train plus those
// DIR/tags.txt declares; every class label.
TextVocabs build_vocabs(TextTask task, const std::string& dir, int min_count,
                        const std::vector<std::string>& features = {});
// RUN_DIR/words.txt, RUN_DIR/tags.txt or labels.txt, RUN_DIR/feature.NAME.txt, each
// written crash-safe.
void save_vocabs(const TextVocabs& vocabs, TextTask task, const std::string& run_dir);
TextVocabs load_vocabs(TextTask task, const std::string& run_dir,
                       const std::vector<std::string>& features = {});
// `words` (encoded from `tokens`) with each token's id replaced by that of its feature.
SequenceData feature_data(const SequenceData& words,
                          const std::vector<std::vector<std::string>>& tokens,
                          const std::string& feature, const Vocab& vocab);
// The task a run directory's vocabularies were saved for: tags.txt (tagging),
// labels.txt (classification) or only words.txt (language model).
TextTask saved_task(const std::string& run_dir);
// $words, and $tags or $labels, for the model file.
graph::DataSizes data_sizes(const TextVocabs& vocabs, TextTask task);

// One split of a text data set resident on a device, with its batch source.
class TextSplit {
 public:
  // `split`: "train" or "test" (DIR/split.tsv or .txt). Language models cut the text
  // into `batch_size` streams of `bptt`-step chunks.
  TextSplit(TextTask task, const std::string& dir, const std::string& split,
            const TextVocabs& vocabs, Device device, int64_t batch_size, int32_t bptt);
  BatchSource& source() { return *source_; }
  int64_t sequences() const { return sequences_; }  // sentences or texts
  int64_t tokens() const { return tokens_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t sequences_ = 0, tokens_ = 0;
  std::unique_ptr<DeviceSequences> sequence_data_;
  std::map<std::string, std::unique_ptr<DeviceSequences>> feature_data_;
  std::unique_ptr<DeviceTokenStreams> stream_data_;
  std::unique_ptr<BatchSource> source_;
};

}  // namespace kiln::train
