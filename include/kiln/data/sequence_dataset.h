// Token sequences for taggers, classifiers and language models, resident on a device:
// every token id (and tag, and sequence label) is uploaded once as a float (class ids
// as floats, exact below 2^24, the convention of ops/softmax_cross_entropy.h); each
// step gathers its time-major batch there (ops/gather_tokens.h) from an index plan
// uploaded once per epoch. Lengths and offsets stay known on the host, which plans the
// batches (length buckets) and sizes the tensors. See docs/DATA.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/data/text.h"
#include "kiln/data/vocab.h"
#include "kiln/device.h"
#include "kiln/runtime.h"
#include "kiln/tensor.h"

namespace kiln {

// The padding of gathered tag batches: the ignore index of the loss.
constexpr int kPadTag = -1;
// Ends each sentence of a language-model stream.
constexpr const char* kEosToken = "<eos>";

// A corpus as ids: sequence s is ids[offsets[s], offsets[s] + lengths[s]).
struct SequenceData {
  std::vector<int32_t> ids;
  std::vector<int32_t> tags;    // per token (tagging) or empty
  std::vector<int32_t> labels;  // per sequence (classification) or empty
  std::vector<int64_t> offsets;
  std::vector<int32_t> lengths;
  std::string source;           // the file, for messages
  std::vector<int32_t> lines;   // the line each sequence starts on
};

// Tags not in `tags` throw kiln::Error naming FILE:LINE of the token.
SequenceData encode_tagged(const std::vector<TaggedSentence>& sentences, const Vocab& words,
                           const Vocab& tags, const std::string& path);
// Texts cut to their first `max_words` words; labels not in `labels` throw (FILE:LINE).
SequenceData encode_labelled(const std::vector<LabelledText>& texts, const Vocab& words,
                             const Vocab& labels, const std::string& path, int max_words = 200);
// Untagged sentences (a tagger's input at prediction time).
SequenceData encode_sentences(const std::vector<TextLine>& sentences, const Vocab& words,
                              const std::string& path);
// The sentences as one stream of ids, each sentence followed by <eos> (which `words`
// must hold: build it from the sentences with <eos> appended, see lm_sequences).
std::vector<int32_t> encode_stream(const std::vector<TextLine>& sentences, const Vocab& words);
// The sentences' tokens, each followed by <eos>: what a language model's vocabulary is
// built from.
std::vector<std::vector<std::string>> lm_sequences(const std::vector<TextLine>& sentences);

// ---- Batching by length buckets ---------------------------------------------------------

// Upper bounds of the length buckets: a sequence of length n goes to the first bucket
// whose bound is >= n. Longer sequences than the last bound are an error.
std::vector<int32_t> default_bucket_bounds();  // 8 16 24 32 48 64 96 128 256

// Batch k covers positions [first, first + size) of the plan's order; steps is the
// length of its longest sequence (its T).
struct SequenceBatch {
  int64_t first = 0;
  int32_t size = 0, steps = 0;
};

struct BatchPlan {
  std::vector<int32_t> order;  // sequence ids, batch after batch
  std::vector<SequenceBatch> batches;
};

// Throws kiln::Error naming the sequence's FILE:LINE when a sequence is empty or longer
// than `max_length`.
void check_lengths(const SequenceData& data, int32_t max_length);

// Each bucket's sequences shuffled, cut into batches of `batch_size` (a bucket's last
// batch may be short), and the batches of all buckets shuffled: a pure function of
// (lengths, bounds, batch_size, seed, epoch) through Philox (kiln/philox.h).
BatchPlan shuffled_batches(const std::vector<int32_t>& lengths, const std::vector<int32_t>& bounds,
                           int32_t batch_size, uint64_t seed, int epoch);
// The same without shuffling: buckets in increasing length, sequences in corpus order
// within a bucket (evaluation, prediction).
BatchPlan ordered_batches(const std::vector<int32_t>& lengths, const std::vector<int32_t>& bounds,
                          int32_t batch_size);

class DeviceSequences {
 public:
  // Uploads ids, tags, labels, offsets and lengths once.
  DeviceSequences(const SequenceData& data, Device device);

  int64_t size() const { return static_cast<int64_t>(lengths_.size()); }
  const std::vector<int32_t>& lengths() const { return lengths_; }
  bool has_tags() const { return has_tags_; }
  bool has_labels() const { return has_labels_; }
  const Device& device() const { return device_; }

  // Uploads the plan's order: once per epoch, never inside a step. Every sequence id in
  // it must be below size().
  void set_plan(BatchPlan plan);
  const BatchPlan& plan() const { return plan_; }

  // A batch of the plan (usually plan().batches[k]): ids [T, B] (padding <pad> = 0),
  // tags [T, B] (padding kPadTag; when has_tags()), labels [B] (when has_labels()),
  // lengths [B] (the valid steps), with B and T the batch's size and steps. Steps
  // [start, start + T) of each sequence (start > 0: the later chunks of long streams).
  // Gathered on the device, no host synchronisation.
  void gather(const SequenceBatch& batch, Tensor& ids, Tensor* tags, Tensor* labels,
              Tensor& lengths, int64_t start = 0) const;

 private:
  Device device_;
  std::vector<int32_t> lengths_;
  bool has_tags_ = false, has_labels_ = false;
  rt::Buffer ids_, tags_, labels_, offsets_, device_lengths_, order_;
  BatchPlan plan_;  // kept alive while an asynchronous upload may still read its order
};

// Language-model streams (Zaremba et al. 2014): the text cut into `streams` parallel
// streams of L = text.size() / streams tokens each (the remainder dropped); chunk k
// holds inputs [T, streams] = steps [k * bptt, k * bptt + T) of every stream and
// targets = the same steps + 1, T = bptt except for the last, shorter chunk. The
// trainer carries the recurrent state from chunk k to k + 1 of the same stream.
class DeviceTokenStreams {
 public:
  DeviceTokenStreams(const std::vector<int32_t>& text, int32_t streams, Device device);

  int32_t streams() const { return streams_; }
  int64_t stream_length() const { return stream_length_; }
  int64_t chunks(int32_t bptt) const;
  int32_t chunk_steps(int64_t k, int32_t bptt) const;
  // inputs, targets [chunk_steps(k, bptt), streams]; lengths (all T) are not returned.
  void gather_chunk(int64_t k, int32_t bptt, Tensor& inputs, Tensor& targets) const;

 private:
  int32_t streams_;
  int64_t stream_length_;
  DeviceSequences sequences_;
  mutable Tensor lengths_;  // scratch for the gather's lengths output
};

}  // namespace kiln
