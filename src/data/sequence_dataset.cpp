#include "kiln/data/sequence_dataset.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "kiln/error.h"
#include "kiln/ops/gather_tokens.h"
#include "kiln/philox.h"

namespace kiln {

namespace {

// Counter word 2 of the batching draws, apart from every other Philox stream keyed by
// the same seed (kiln/data/augment.h uses "SHFT").
constexpr uint32_t kBatchStream = 0x42434b54u;  // "BCKT"

void start_sequence(SequenceData& data, int line) {
  data.offsets.push_back(static_cast<int64_t>(data.ids.size()));
  data.lengths.push_back(0);
  data.lines.push_back(line);
}

void add_word(SequenceData& data, const Vocab& words, const std::string& word) {
  data.ids.push_back(words.id(word));
  ++data.lengths.back();
}

std::string location(const std::string& path, int line) { return path + ":" + std::to_string(line); }

// Fisher-Yates over `items`, the j-th 32-bit draw being word j % 4 of the Philox block
// (j / 4, sub_stream, kBatchStream, epoch) under `seed`; bounded draws by rejection.
void philox_shuffle(std::vector<int32_t>& items, uint64_t seed, int epoch, uint32_t sub_stream) {
  uint64_t draw = 0;
  const auto next = [&] {
    const philox::Block counter{{static_cast<uint32_t>(draw / 4), sub_stream, kBatchStream,
                                 static_cast<uint32_t>(epoch)}};
    const philox::Block block = philox::philox4x32_10(counter, static_cast<uint32_t>(seed),
                                                      static_cast<uint32_t>(seed >> 32));
    return block.v[draw++ % 4];
  };
  for (std::size_t i = items.size(); i > 1; --i) {
    const uint64_t range = i;  // draw j uniform in [0, i)
    const uint64_t limit = (uint64_t{1} << 32) - (uint64_t{1} << 32) % range;
    uint64_t x;
    do x = next();
    while (x >= limit);
    std::swap(items[i - 1], items[x % range]);
  }
}

void check_bounds(const std::vector<int32_t>& bounds, int32_t batch_size) {
  KILN_CHECK(!bounds.empty() && bounds.size() < 4096, "bucket bounds: 1 to 4095 buckets, got ",
             bounds.size());
  for (std::size_t k = 0; k < bounds.size(); ++k) {
    KILN_CHECK(bounds[k] >= 1 && (k == 0 || bounds[k] > bounds[k - 1]), "bucket bounds must be ",
               "positive and increasing; bound ", k, " is ", bounds[k]);
  }
  KILN_CHECK(batch_size >= 1, "the batch size must be >= 1, got ", batch_size);
}

// The sequences of each bucket, in corpus order.
std::vector<std::vector<int32_t>> fill_buckets(const std::vector<int32_t>& lengths,
                                               const std::vector<int32_t>& bounds) {
  std::vector<std::vector<int32_t>> buckets(bounds.size());
  for (std::size_t s = 0; s < lengths.size(); ++s) {
    const int32_t n = lengths[s];
    KILN_CHECK(n >= 1 && n <= bounds.back(), "sequence ", s, " has length ", n,
               n < 1 ? ": empty sequences cannot be batched" : " > the largest bucket bound ",
               n < 1 ? "" : std::to_string(bounds.back()) + "; raise it or split the sequence");
    const auto k = std::lower_bound(bounds.begin(), bounds.end(), n) - bounds.begin();
    buckets[static_cast<std::size_t>(k)].push_back(static_cast<int32_t>(s));
  }
  return buckets;
}

// Cuts the buckets into batches; `batch_order` (when given) permutes the batches.
BatchPlan cut_batches(const std::vector<std::vector<int32_t>>& buckets,
                      const std::vector<int32_t>& lengths, int32_t batch_size,
                      const std::vector<int32_t>* batch_order) {
  std::vector<std::vector<int32_t>> batches;
  for (const auto& bucket : buckets) {
    for (std::size_t i = 0; i < bucket.size(); i += static_cast<std::size_t>(batch_size)) {
      const std::size_t end = std::min(bucket.size(), i + static_cast<std::size_t>(batch_size));
      batches.emplace_back(bucket.begin() + static_cast<std::ptrdiff_t>(i),
                           bucket.begin() + static_cast<std::ptrdiff_t>(end));
    }
  }
  std::vector<int32_t> order(batches.size());
  std::iota(order.begin(), order.end(), 0);
  if (batch_order) order = *batch_order;
  BatchPlan plan;
  for (int32_t k : order) {
    const std::vector<int32_t>& members = batches[static_cast<std::size_t>(k)];
    SequenceBatch batch{static_cast<int64_t>(plan.order.size()), static_cast<int32_t>(members.size()), 0};
    for (int32_t s : members) batch.steps = std::max(batch.steps, lengths[static_cast<std::size_t>(s)]);
    plan.order.insert(plan.order.end(), members.begin(), members.end());
    plan.batches.push_back(batch);
  }
  return plan;
}

int32_t batch_count(const std::vector<std::vector<int32_t>>& buckets, int32_t batch_size) {
  int64_t count = 0;
  for (const auto& bucket : buckets) count += (static_cast<int64_t>(bucket.size()) + batch_size - 1) / batch_size;
  return static_cast<int32_t>(count);
}

template <class T>
rt::Buffer upload(const std::vector<T>& host, const Device& device) {
  rt::Buffer buffer(device, std::max<std::size_t>(host.size(), 1) * sizeof(T));
  if (!host.empty()) rt::copy(buffer.data(), device, host.data(), Device::cpu(), host.size() * sizeof(T));
  return buffer;
}

std::vector<float> as_floats(const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    KILN_CHECK(id >= kPadTag && id < (1 << 24), "DeviceSequences: id ", id,
               " is not exact as a float (ids must lie in [-1, 2^24))");
  }
  return std::vector<float>(ids.begin(), ids.end());
}

void check_tensor(const Tensor* t, const Shape& shape, const Device& device, const char* name) {
  KILN_CHECK(t && t->defined() && t->shape() == shape && t->device() == device,
             "DeviceSequences::gather: ", name, " must be ", shape_str(shape), " on ", device.str(),
             ", got ", t && t->defined() ? shape_str(t->shape()) + " on " + t->device().str() : "none");
}

}  // namespace

SequenceData encode_tagged(const std::vector<TaggedSentence>& sentences, const Vocab& words,
                           const Vocab& tags, const std::string& path) {
  KILN_CHECK(tags.kind() == VocabKind::tags && words.kind() == VocabKind::words,
             "encode_tagged: needs a words and a tags vocabulary");
  SequenceData data;
  data.source = path;
  for (const TaggedSentence& sentence : sentences) {
    start_sequence(data, sentence.first_line);
    for (std::size_t k = 0; k < sentence.tokens.size(); ++k) {
      add_word(data, words, sentence.tokens[k]);
      const std::string& tag = sentence.tags[k];
      // The location only when it is needed: a million tokens, a million strings.
      data.tags.push_back(tags.contains(tag) ? tags.id(tag)
                                             : tags.id(tag, location(path, sentence.first_line + static_cast<int>(k))));
    }
  }
  return data;
}

SequenceData encode_labelled(const std::vector<LabelledText>& texts, const Vocab& words,
                             const Vocab& labels, const std::string& path, int max_words) {
  KILN_CHECK(max_words >= 1, "encode_labelled: max_words must be >= 1, got ", max_words);
  SequenceData data;
  data.source = path;
  for (const LabelledText& text : texts) {
    start_sequence(data, text.line);
    data.labels.push_back(labels.id(text.label, location(path, text.line)));
    const std::size_t n = std::min(text.tokens.size(), static_cast<std::size_t>(max_words));
    for (std::size_t k = 0; k < n; ++k) add_word(data, words, text.tokens[k]);
  }
  return data;
}

SequenceData encode_sentences(const std::vector<TextLine>& sentences, const Vocab& words,
                              const std::string& path) {
  SequenceData data;
  data.source = path;
  for (const TextLine& sentence : sentences) {
    start_sequence(data, sentence.line);
    for (const std::string& word : sentence.tokens) add_word(data, words, word);
  }
  return data;
}

std::vector<std::vector<std::string>> lm_sequences(const std::vector<TextLine>& sentences) {
  std::vector<std::vector<std::string>> sequences;
  for (const TextLine& sentence : sentences) {
    sequences.push_back(sentence.tokens);
    sequences.back().push_back(kEosToken);
  }
  return sequences;
}

std::vector<int32_t> encode_stream(const std::vector<TextLine>& sentences, const Vocab& words) {
  KILN_CHECK(words.contains(kEosToken), "encode_stream: the vocabulary lacks ", kEosToken,
             " (build it from lm_sequences)");
  std::vector<int32_t> stream;
  for (const TextLine& sentence : sentences) {
    for (const std::string& word : sentence.tokens) stream.push_back(words.id(word));
    stream.push_back(words.id(kEosToken));
  }
  return stream;
}

std::vector<int32_t> default_bucket_bounds() { return {8, 16, 24, 32, 48, 64, 96, 128, 256}; }

void check_lengths(const SequenceData& data, int32_t max_length) {
  for (std::size_t s = 0; s < data.lengths.size(); ++s) {
    const std::string where = location(data.source, s < data.lines.size() ? data.lines[s] : 0);
    KILN_CHECK(data.lengths[s] >= 1, where, ": empty sequence");
    KILN_CHECK(data.lengths[s] <= max_length, where, ": the sequence has ", data.lengths[s],
               " tokens, more than the largest bucket (", max_length,
               "); raise the largest bucket bound or split the sentence");
  }
}

BatchPlan shuffled_batches(const std::vector<int32_t>& lengths, const std::vector<int32_t>& bounds,
                           int32_t batch_size, uint64_t seed, int epoch) {
  check_bounds(bounds, batch_size);
  KILN_CHECK(epoch >= 0, "shuffled_batches: epoch ", epoch, " is negative");
  std::vector<std::vector<int32_t>> buckets = fill_buckets(lengths, bounds);
  for (std::size_t k = 0; k < buckets.size(); ++k) {
    philox_shuffle(buckets[k], seed, epoch, static_cast<uint32_t>(k + 1));
  }
  std::vector<int32_t> batch_order(static_cast<std::size_t>(batch_count(buckets, batch_size)));
  std::iota(batch_order.begin(), batch_order.end(), 0);
  philox_shuffle(batch_order, seed, epoch, 0);
  return cut_batches(buckets, lengths, batch_size, &batch_order);
}

BatchPlan ordered_batches(const std::vector<int32_t>& lengths, const std::vector<int32_t>& bounds,
                          int32_t batch_size) {
  check_bounds(bounds, batch_size);
  return cut_batches(fill_buckets(lengths, bounds), lengths, batch_size, nullptr);
}

DeviceSequences::DeviceSequences(const SequenceData& data, Device device)
    : device_(device), lengths_(data.lengths) {
  const std::size_t n = data.lengths.size();
  KILN_CHECK(n >= 1 && n <= static_cast<std::size_t>(std::numeric_limits<int32_t>::max()) &&
                 data.offsets.size() == n,
             "DeviceSequences: ", n, " sequences with ", data.offsets.size(), " offsets");
  for (std::size_t s = 0; s < n; ++s) {
    KILN_CHECK(data.offsets[s] >= 0 && data.lengths[s] >= 0 &&
                   data.offsets[s] + data.lengths[s] <= static_cast<int64_t>(data.ids.size()),
               "DeviceSequences: sequence ", s, " [", data.offsets[s], ", +", data.lengths[s],
               ") lies outside the ", data.ids.size(), " ids");
  }
  has_tags_ = !data.tags.empty();
  has_labels_ = !data.labels.empty();
  KILN_CHECK(!has_tags_ || data.tags.size() == data.ids.size(), "DeviceSequences: ",
             data.tags.size(), " tags for ", data.ids.size(), " ids");
  KILN_CHECK(!has_labels_ || data.labels.size() == n, "DeviceSequences: ", data.labels.size(),
             " labels for ", n, " sequences");
  require_available(device_);
  ids_ = upload(as_floats(data.ids), device_);
  if (has_tags_) tags_ = upload(as_floats(data.tags), device_);
  if (has_labels_) labels_ = upload(as_floats(data.labels), device_);
  offsets_ = upload(data.offsets, device_);
  device_lengths_ = upload(data.lengths, device_);
  order_ = rt::Buffer(device_, n * sizeof(int32_t));
  // The uploads above read temporaries.
  rt::synchronize(device_);
}

void DeviceSequences::set_plan(BatchPlan plan) {
  KILN_CHECK(plan.order.size() <= static_cast<std::size_t>(size()), "DeviceSequences::set_plan: ",
             plan.order.size(), " positions for ", size(), " sequences");
  for (int32_t s : plan.order) {
    KILN_CHECK(s >= 0 && s < size(), "DeviceSequences::set_plan: sequence ", s, " outside [0, ",
               size(), ")");
  }
  for (const SequenceBatch& b : plan.batches) {
    KILN_CHECK(b.first >= 0 && b.size >= 1 && b.steps >= 1 &&
                   b.first + b.size <= static_cast<int64_t>(plan.order.size()),
               "DeviceSequences::set_plan: batch [", b.first, ", +", b.size, ") of ", b.steps,
               " steps does not fit the order of ", plan.order.size());
  }
  // Queued gathers of the previous plan run before this upload (same stream); the old
  // host order must stay alive until then, so wait before replacing it.
  rt::synchronize(device_);
  plan_ = std::move(plan);
  if (!plan_.order.empty()) {
    rt::copy(order_.data(), device_, plan_.order.data(), Device::cpu(),
             plan_.order.size() * sizeof(int32_t));
  }
}

void DeviceSequences::gather(const SequenceBatch& batch, Tensor& ids, Tensor* tags, Tensor* labels,
                             Tensor& lengths, int64_t start) const {
  KILN_CHECK(batch.first >= 0 && batch.size >= 1 && batch.steps >= 1 && start >= 0 &&
                 batch.first + batch.size <= static_cast<int64_t>(plan_.order.size()),
             "DeviceSequences::gather: batch [", batch.first, ", +", batch.size, ") of ",
             batch.steps, " steps from step ", start, " does not fit the plan's ",
             plan_.order.size(), " positions");
  const Shape steps_by_batch{batch.steps, batch.size};
  check_tensor(&ids, steps_by_batch, device_, "ids");
  check_tensor(&lengths, Shape{batch.size}, device_, "lengths");
  if (has_tags_) check_tensor(tags, steps_by_batch, device_, "tags");
  if (has_labels_) check_tensor(labels, Shape{batch.size}, device_, "labels");
  ops::TokenSource source{ids_.as<float>(), has_tags_ ? tags_.as<float>() : nullptr,
                          has_labels_ ? labels_.as<float>() : nullptr, offsets_.as<int64_t>(),
                          device_lengths_.as<int32_t>()};
  ops::TokenBatch plan{order_.as<int32_t>(), batch.first, batch.size, batch.steps, start,
                       static_cast<float>(Vocab::kPad), static_cast<float>(kPadTag)};
  ops::TokenOutputs out{ids.data(), has_tags_ ? tags->data() : nullptr, lengths.data(),
                        has_labels_ ? labels->data() : nullptr};
  ops::gather_tokens(device_, source, plan, out);
}

namespace {

// Streams b = text[b * L, (b + 1) * L) as sequences of L - 1 inputs whose tags are the
// next tokens.
SequenceData stream_data(const std::vector<int32_t>& text, int32_t streams, int64_t length) {
  KILN_CHECK(streams >= 1 && length >= 2, "DeviceTokenStreams: ", text.size(), " tokens cannot ",
             "make ", streams, " streams of at least 2 tokens");
  SequenceData data;
  data.ids.assign(text.begin(), text.begin() + streams * length);
  data.tags.assign(text.begin() + 1, text.begin() + streams * length);
  data.tags.push_back(Vocab::kPad);  // after the last input: never gathered
  for (int32_t b = 0; b < streams; ++b) {
    data.offsets.push_back(b * length);
    data.lengths.push_back(static_cast<int32_t>(length - 1));
  }
  return data;
}

int64_t stream_length_of(const std::vector<int32_t>& text, int32_t streams) {
  KILN_CHECK(streams >= 1, "DeviceTokenStreams: streams must be >= 1, got ", streams);
  const int64_t length = static_cast<int64_t>(text.size()) / streams;
  KILN_CHECK(length <= std::numeric_limits<int32_t>::max(), "DeviceTokenStreams: streams of ",
             length, " tokens are too long; use more streams");
  return length;
}

}  // namespace

DeviceTokenStreams::DeviceTokenStreams(const std::vector<int32_t>& text, int32_t streams, Device device)
    : streams_(streams),
      stream_length_(stream_length_of(text, streams)),
      sequences_(stream_data(text, streams, stream_length_), device),
      lengths_({streams}, device) {
  BatchPlan plan;
  plan.order.resize(static_cast<std::size_t>(streams));
  std::iota(plan.order.begin(), plan.order.end(), 0);
  plan.batches.push_back(SequenceBatch{0, streams, 1});
  sequences_.set_plan(std::move(plan));
}

int64_t DeviceTokenStreams::chunks(int32_t bptt) const {
  KILN_CHECK(bptt >= 1, "bptt must be >= 1, got ", bptt);
  return (stream_length_ - 1 + bptt - 1) / bptt;
}

int32_t DeviceTokenStreams::chunk_steps(int64_t k, int32_t bptt) const {
  KILN_CHECK(k >= 0 && k < chunks(bptt), "DeviceTokenStreams: chunk ", k, " outside [0, ",
             chunks(bptt), ") for bptt ", bptt);
  return static_cast<int32_t>(std::min<int64_t>(bptt, stream_length_ - 1 - k * bptt));
}

void DeviceTokenStreams::gather_chunk(int64_t k, int32_t bptt, Tensor& inputs, Tensor& targets) const {
  const int32_t steps = chunk_steps(k, bptt);
  const Shape shape{steps, streams_};
  KILN_CHECK(inputs.defined() && targets.defined() && inputs.shape() == shape && targets.shape() == shape,
             "DeviceTokenStreams::gather_chunk: inputs and targets must be ", shape_str(shape),
             " for chunk ", k);
  sequences_.gather(SequenceBatch{0, streams_, steps}, inputs, &targets, nullptr, lengths_,
                    k * bptt);
}

}  // namespace kiln
