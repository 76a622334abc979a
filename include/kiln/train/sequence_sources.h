// The trainer's batch sources for text (kiln/train/trainer.h, kiln/data/sequence_dataset.h):
//   SequenceSource  taggers (items = tokens that are not padding) and text classifiers
//                   (items = texts): sequences bucketed by length, each batch padded to
//                   its longest sequence, with a lengths vector;
//   StreamSource    language models (items = tokens): the text as B parallel streams cut
//                   into chunks of `bptt` steps, the recurrent state carried from one chunk
//                   to the next (truncated BPTT), next-word targets, perplexity reported.
// Both gather on the device from data uploaded once; per-batch sizes come from lengths
// the host already knows, so no step synchronises.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kiln/data/sequence_dataset.h"
#include "kiln/train/trainer.h"

namespace kiln::train {

class SequenceSource final : public BatchSource {
 public:
  // `data` must outlive the source; `bounds` are the length buckets' upper bounds;
  // `features`: the same sequences as token-feature ids, by feature name, gathered into
  // the model's feature inputs (InputRoles::features).
  SequenceSource(DeviceSequences& data, std::vector<int32_t> bounds,
                 std::map<std::string, DeviceSequences*> features = {});
  void plan(uint64_t seed, int epoch, int64_t batch_size) override;
  int64_t batches() const override { return static_cast<int64_t>(batch_items_.size()); }
  int64_t load(int64_t k, graph::Graph& graph) override;
  int64_t items() const override { return items_; }
  const char* unit() const override { return data_.has_tags() ? "tokens" : "texts"; }

 private:
  DeviceSequences& data_;
  std::vector<int32_t> bounds_;
  std::map<std::string, DeviceSequences*> features_;
  std::vector<int64_t> batch_items_;  // of the planned epoch
  int64_t items_ = 0;
  Tensor lengths_scratch_;  // the gather's lengths when the model takes none
  Tensor feature_lengths_;  // the feature gathers' (unused) lengths
};

class StreamSource final : public BatchSource {
 public:
  // The batch size trained with must equal the streams' count.
  StreamSource(const DeviceTokenStreams& streams, int32_t bptt);
  void plan(uint64_t seed, int epoch, int64_t batch_size) override;
  int64_t batches() const override { return streams_.chunks(bptt_); }
  int64_t load(int64_t k, graph::Graph& graph) override;
  int64_t items() const override { return (streams_.stream_length() - 1) * streams_.streams(); }
  const char* unit() const override { return "tokens"; }
  bool carries_state() const override { return true; }
  bool perplexity() const override { return true; }

 private:
  const DeviceTokenStreams& streams_;
  int32_t bptt_;
};

}  // namespace kiln::train
