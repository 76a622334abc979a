#include "kiln/train/sequence_sources.h"

#include "kiln/error.h"
#include "kiln/ops/elementwise.h"

namespace kiln::train {

SequenceSource::SequenceSource(DeviceSequences& data, std::vector<int32_t> bounds,
                               std::map<std::string, DeviceSequences*> features)
    : data_(data), bounds_(std::move(bounds)), features_(std::move(features)) {
  KILN_CHECK(data.has_tags() || data.has_labels(),
             "SequenceSource: the sequences carry neither tags nor labels to train on");
}

void SequenceSource::plan(uint64_t seed, int epoch, int64_t batch_size) {
  KILN_CHECK(batch_size > 0 && batch_size <= INT32_MAX, "the batch size must be in [1, 2^31), got ",
             batch_size);
  const auto size = static_cast<int32_t>(batch_size);
  BatchPlan plan = epoch == kNaturalOrder
                       ? ordered_batches(data_.lengths(), bounds_, size)
                       : shuffled_batches(data_.lengths(), bounds_, size, seed, epoch);
  batch_items_.clear();
  items_ = 0;
  for (const SequenceBatch& b : plan.batches) {
    int64_t items = b.size;
    if (data_.has_tags()) {
      items = 0;
      for (int32_t i = 0; i < b.size; ++i) items += data_.lengths()[plan.order[b.first + i]];
    }
    batch_items_.push_back(items);
    items_ += items;
  }
  for (auto& [name, feature] : features_) feature->set_plan(plan);
  data_.set_plan(std::move(plan));
}

int64_t SequenceSource::load(int64_t k, graph::Graph& graph) {
  const InputRoles roles = input_roles(graph);
  const SequenceBatch& b = data_.plan().batches.at(static_cast<std::size_t>(k));
  graph.set_batch(b.size, b.steps);
  Tensor* lengths = &lengths_scratch_;
  if (!roles.lengths.empty()) {
    lengths = &graph.input(roles.lengths);
  } else if (lengths_scratch_.shape() != Shape{b.size}) {
    lengths_scratch_ = Tensor({b.size}, graph.device());
  }
  Tensor& labels = graph.input(roles.labels);
  data_.gather(b, graph.input(roles.data), data_.has_tags() ? &labels : nullptr,
               data_.has_tags() ? nullptr : &labels, *lengths);
  for (const auto& [input, feature] : roles.features) {
    const auto it = features_.find(feature);
    KILN_CHECK(it != features_.end(), "the model's input '", input, "' takes the token feature '",
               feature, "', which this data source was not given");
    if (feature_lengths_.shape() != Shape{b.size}) feature_lengths_ = Tensor({b.size}, graph.device());
    it->second->gather(b, graph.input(input), nullptr, nullptr, feature_lengths_);
  }
  return batch_items_[static_cast<std::size_t>(k)];
}

StreamSource::StreamSource(const DeviceTokenStreams& streams, int32_t bptt)
    : streams_(streams), bptt_(bptt) {
  KILN_CHECK(bptt >= 1, "--bptt must be positive, got ", bptt);
  KILN_CHECK(streams.stream_length() >= 2, "the text is too short for ", streams.streams(),
             " streams: each stream needs at least 2 tokens (an input and its next word)");
}

void StreamSource::plan(uint64_t, int, int64_t batch_size) {
  KILN_CHECK(batch_size == streams_.streams(), "the language model's text was cut into ",
             streams_.streams(), " streams; it trains and evaluates with batch size ",
             streams_.streams(), ", not ", batch_size);
}

int64_t StreamSource::load(int64_t k, graph::Graph& graph) {
  const InputRoles roles = input_roles(graph);
  const int32_t steps = streams_.chunk_steps(k, bptt_);
  graph.set_batch(streams_.streams(), steps);
  streams_.gather_chunk(k, bptt_, graph.input(roles.data), graph.input(roles.labels));
  if (!roles.lengths.empty()) ops::fill(graph.input(roles.lengths), static_cast<float>(steps));
  return int64_t{steps} * streams_.streams();
}

}  // namespace kiln::train
