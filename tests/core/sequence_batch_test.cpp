// Sequence batches (kiln/data/sequence_dataset.h): encoding, bucketing invariants,
// the device gather on every device against a host reference, and language-model
// streams and chunks.
#include "kiln/data/sequence_dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/temp_dir.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using test::throws_error_with;

// Lengths 1..40, irregular, so every default bucket below 48 is used.
std::vector<int32_t> sample_lengths(int count) {
  std::vector<int32_t> lengths;
  for (int s = 0; s < count; ++s) lengths.push_back(1 + (s * 17 + s / 3) % 40);
  return lengths;
}

TEST(BucketedBatches, EverySequenceOncePaddedOnlyToItsBatchLongest) {
  const std::vector<int32_t> lengths = sample_lengths(203);
  const std::vector<int32_t> bounds = default_bucket_bounds();
  for (const BatchPlan& plan : {shuffled_batches(lengths, bounds, 16, 7, 0), ordered_batches(lengths, bounds, 16)}) {
    std::vector<int32_t> seen = plan.order;
    std::sort(seen.begin(), seen.end());
    ASSERT_EQ(seen.size(), lengths.size());
    for (int32_t s = 0; s < static_cast<int32_t>(seen.size()); ++s) ASSERT_EQ(seen[s], s);
    int64_t next = 0;
    for (const SequenceBatch& b : plan.batches) {
      EXPECT_EQ(b.first, next);  // batches tile the order
      next += b.size;
      ASSERT_GE(b.size, 1);
      ASSERT_LE(b.size, 16);
      int32_t longest = 0;
      std::set<std::size_t> buckets;
      for (int64_t i = b.first; i < b.first + b.size; ++i) {
        const int32_t n = lengths[plan.order[i]];
        longest = std::max(longest, n);
        buckets.insert(std::lower_bound(bounds.begin(), bounds.end(), n) - bounds.begin());
      }
      EXPECT_EQ(b.steps, longest);
      EXPECT_EQ(buckets.size(), 1u) << "a batch mixes buckets";
    }
    EXPECT_EQ(next, 203);
  }
}

TEST(BucketedBatches, OrderIsAFunctionOfSeedAndEpoch) {
  const std::vector<int32_t> lengths = sample_lengths(150);
  const std::vector<int32_t> bounds = default_bucket_bounds();
  const BatchPlan a = shuffled_batches(lengths, bounds, 8, 42, 3);
  EXPECT_EQ(a.order, shuffled_batches(lengths, bounds, 8, 42, 3).order);
  EXPECT_NE(a.order, shuffled_batches(lengths, bounds, 8, 43, 3).order);
  EXPECT_NE(a.order, shuffled_batches(lengths, bounds, 8, 42, 4).order);
  EXPECT_NE(a.order, shuffled_batches(lengths, bounds, 8, 42 + (uint64_t{1} << 32), 3).order);
  // Shuffled within buckets: the ordered plan keeps corpus order inside each bucket.
  EXPECT_NE(a.order, ordered_batches(lengths, bounds, 8).order);
  // Across buckets: the batch lengths are not sorted.
  std::vector<int32_t> steps;
  for (const SequenceBatch& b : a.batches) steps.push_back(b.steps);
  EXPECT_FALSE(std::is_sorted(steps.begin(), steps.end()));
}

TEST(BucketedBatches, RejectsTooLongOrEmptySequencesAndBadBounds) {
  EXPECT_TRUE(throws_error_with([] { ordered_batches({3, 9, 2}, {4, 8}, 2); },
                                {"sequence 1 has length 9", "largest bucket bound 8"}));
  EXPECT_TRUE(throws_error_with([] { ordered_batches({3, 0}, {4, 8}, 2); }, {"sequence 1", "empty"}));
  EXPECT_TRUE(throws_error_with([] { ordered_batches({3}, {8, 4}, 2); }, {"increasing"}));
  EXPECT_TRUE(throws_error_with([] { ordered_batches({3}, {8}, 0); }, {"batch size"}));
  SequenceData data;
  data.source = "train.tsv";
  data.lengths = {3, 300};
  data.lines = {1, 5};
  EXPECT_TRUE(throws_error_with([&] { check_lengths(data, 256); },
                                {"train.tsv:5", "300 tokens", "largest bucket (256)"}));
}

TEST(EncodeTagged, MapsWordsAndTagsAndNamesTheLineOfAnUnknownTag) {
  const std::vector<TaggedSentence> train{{{"the", "dog"}, {"at", "nn"}, 1}, {{"a", "cat"}, {"at", "nn"}, 4}};
  std::vector<std::vector<std::string>> words, tags;
  for (const auto& s : train) {
    words.push_back(s.tokens);
    tags.push_back(s.tags);
  }
  const Vocab word_vocab = Vocab::build(VocabKind::words, words);
  const Vocab tag_vocab = Vocab::build(VocabKind::tags, tags);
  const SequenceData data = encode_tagged(train, word_vocab, tag_vocab, "train.tsv");
  EXPECT_EQ(data.ids, (std::vector<int32_t>{2, 3, 4, 5}));
  EXPECT_EQ(data.tags, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(data.offsets, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(data.lengths, (std::vector<int32_t>{2, 2}));
  const std::vector<TaggedSentence> test{{{"the", "bird", "sings"}, {"at", "nn", "vbz"}, 10}};
  EXPECT_TRUE(throws_error_with([&] { encode_tagged(test, word_vocab, tag_vocab, "test.tsv"); },
                                {"test.tsv:12", "'vbz'"}));
  const SequenceData unk = encode_tagged({{{"the", "bird"}, {"at", "nn"}, 1}}, word_vocab, tag_vocab, "t");
  EXPECT_EQ(unk.ids, (std::vector<int32_t>{2, Vocab::kUnk}));
}

TEST(EncodeLabelled, TruncatesAndMapsLabels) {
  const Vocab words = Vocab::build(VocabKind::words, {{"a", "b", "c"}});
  const Vocab labels = Vocab::build(VocabKind::tags, {{"ham", "spam"}});
  const SequenceData data =
      encode_labelled({{"spam", {"a", "b", "c", "a"}, 1}, {"ham", {"z"}, 2}}, words, labels, "s.tsv", 3);
  EXPECT_EQ(data.ids, (std::vector<int32_t>{2, 3, 4, Vocab::kUnk}));
  EXPECT_EQ(data.lengths, (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(data.labels, (std::vector<int32_t>{1, 0}));
  EXPECT_TRUE(throws_error_with([&] { encode_labelled({{"eggs", {"a"}, 9}}, words, labels, "s.tsv"); },
                                {"s.tsv:9", "'eggs'"}));
}

// Tagged sequences s with ids 100 * s + t and tags (s + t) % 5, labels s % 3.
SequenceData sample_data(const std::vector<int32_t>& lengths) {
  SequenceData data;
  for (std::size_t s = 0; s < lengths.size(); ++s) {
    data.offsets.push_back(static_cast<int64_t>(data.ids.size()));
    data.lengths.push_back(lengths[s]);
    data.labels.push_back(static_cast<int32_t>(s % 3));
    for (int32_t t = 0; t < lengths[s]; ++t) {
      data.ids.push_back(static_cast<int32_t>(100 * s) + t);
      data.tags.push_back(static_cast<int32_t>((s + t) % 5));
    }
  }
  return data;
}

class SequenceGatherTest : public testing::TestWithParam<Device> {};

TEST_P(SequenceGatherTest, BatchesEqualTheHostReference) {
  const Device device = GetParam();
  const std::vector<int32_t> lengths = sample_lengths(23);
  const SequenceData data = sample_data(lengths);
  DeviceSequences sequences(data, device);
  sequences.set_plan(shuffled_batches(lengths, {4, 12, 40}, 5, 11, 2));
  const BatchPlan& plan = sequences.plan();
  for (const SequenceBatch& batch : plan.batches) {
    const int64_t T = batch.steps, B = batch.size;
    Tensor ids({T, B}, device), tags({T, B}, device), labels({B}, device), got_lengths({B}, device);
    sequences.gather(batch, ids, &tags, &labels, got_lengths);
    std::vector<float> want_ids(T * B), want_tags(T * B), want_labels(B), want_lengths(B);
    for (int64_t b = 0; b < B; ++b) {
      const int32_t s = plan.order[batch.first + b];
      for (int64_t t = 0; t < T; ++t) {
        const bool valid = t < lengths[s];
        want_ids[t * B + b] = valid ? static_cast<float>(100 * s + t) : 0.0f;
        want_tags[t * B + b] = valid ? static_cast<float>((s + t) % 5) : static_cast<float>(kPadTag);
      }
      want_lengths[b] = static_cast<float>(lengths[s]);
      want_labels[b] = static_cast<float>(s % 3);
    }
    EXPECT_EQ(ids.to_vector(), want_ids) << "batch at " << batch.first;
    EXPECT_EQ(tags.to_vector(), want_tags) << "batch at " << batch.first;
    EXPECT_EQ(labels.to_vector(), want_labels);
    EXPECT_EQ(got_lengths.to_vector(), want_lengths);
  }
  Tensor wrong({1, 1}, device), lengths_out({1}, device);
  EXPECT_TRUE(throws_error_with([&] { sequences.gather(plan.batches[0], wrong, nullptr, nullptr, lengths_out); },
                                {"ids must be"}));
}

TEST_P(SequenceGatherTest, LanguageModelChunksAreTheStreamsShiftedByOne) {
  const Device device = GetParam();
  std::vector<int32_t> text;
  for (int32_t i = 0; i < 47; ++i) text.push_back(3 + (i * 7) % 29);
  const int32_t streams = 4, bptt = 5;
  DeviceTokenStreams lm(text, streams, device);
  const int64_t L = 47 / 4;  // 11 tokens per stream, the last 3 dropped
  EXPECT_EQ(lm.stream_length(), L);
  EXPECT_EQ(lm.chunks(bptt), 2);  // 10 input steps: 5 + 5
  EXPECT_EQ(lm.chunks(3), 4);     // 3 + 3 + 3 + 1: the last chunk is short
  EXPECT_EQ(lm.chunk_steps(3, 3), 1);
  for (const int32_t chunk_bptt : {bptt, 3}) {
    int64_t covered = 0;
    for (int64_t k = 0; k < lm.chunks(chunk_bptt); ++k) {
      const int32_t T = lm.chunk_steps(k, chunk_bptt);
      Tensor inputs({T, streams}, device), targets({T, streams}, device);
      lm.gather_chunk(k, chunk_bptt, inputs, targets);
      const std::vector<float> in = inputs.to_vector(), out = targets.to_vector();
      for (int64_t t = 0; t < T; ++t) {
        for (int32_t b = 0; b < streams; ++b) {
          const int64_t position = b * L + covered + t;  // streams cover the text in order
          ASSERT_EQ(in[t * streams + b], static_cast<float>(text[position])) << "k " << k << " t " << t;
          ASSERT_EQ(out[t * streams + b], static_cast<float>(text[position + 1])) << "k " << k << " t " << t;
        }
      }
      covered += T;
    }
    EXPECT_EQ(covered, L - 1);
  }
  Tensor bad({5, 3}, device), bad_targets({5, 3}, device);
  EXPECT_TRUE(throws_error_with([&] { lm.gather_chunk(0, bptt, bad, bad_targets); }, {"[5, 4]"}));
  EXPECT_TRUE(throws_error_with([&] { DeviceTokenStreams({1, 2, 3}, 2, device); }, {"at least 2 tokens"}));
}

INSTANTIATE_TEST_SUITE_P(Devices, SequenceGatherTest, testing::ValuesIn(test::test_devices()),
                         [](const testing::TestParamInfo<Device>& info) {
                           return test::device_name(info.param);
                         });

TEST(LmStream, JoinsSentencesWithEos) {
  const std::vector<TextLine> sentences{{{"a", "b"}, 1}, {{"b"}, 2}};
  const Vocab words = Vocab::build(VocabKind::words, lm_sequences(sentences));
  EXPECT_EQ(words.tokens(), (std::vector<std::string>{"<pad>", "<unk>", "b", "<eos>", "a"}));
  EXPECT_EQ(encode_stream(sentences, words), (std::vector<int32_t>{4, 2, 3, 2, 3}));
}

}  // namespace
}  // namespace kiln
