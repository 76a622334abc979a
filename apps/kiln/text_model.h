// A trained text model as eval, predict and generate load it: the model file, the
// weights, and the vocabularies kept beside them in the run directory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/data/sequence_dataset.h"
#include "kiln/train/text_task.h"
#include "run_options.h"

namespace kiln::cli {

struct TextModel {
  Device device;
  graph::Graph graph;
  train::TextTask task;
  train::TextVocabs vocabs;
};

// `vocab_dir` empty: the directory of the weights file (RUN_DIR/model.safetensors).
TextModel load_text_model(const TrainedModelOptions& o, std::string vocab_dir);

// --vocab DIR: where the vocabularies are, when not beside the weights.
void add_vocab_option(CLI::App* cmd, std::string& vocab_dir);

// The arg-max tag (or class label) of every token (or text) of `data` (encoded from
// `tokens`), sequence by sequence in corpus order, `batch_size` sequences per pass.
std::vector<std::vector<int32_t>> predict_classes(TextModel& model, const SequenceData& data,
                                                  const std::vector<std::vector<std::string>>& tokens,
                                                  int64_t batch_size);

}  // namespace kiln::cli
