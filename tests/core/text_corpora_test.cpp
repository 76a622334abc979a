// The converted text corpora of scripts/fetch_data.sh read back through kiln's readers:
// counts from docs/DATA.md, every dev/test tag in the tag set, every sentence within the
// default buckets. Reads KILN_DATA_DIR (default: data, relative to the working
// directory); skipped with a reason when the corpora are absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "kiln/data/sequence_dataset.h"

namespace kiln {
namespace {

std::string corpus_dir(const std::string& name) {
  const char* env = std::getenv("KILN_DATA_DIR");
  return std::string(env ? env : "data") + "/" + name;
}

#define KILN_REQUIRE_CORPUS(dir)                                                       \
  if (!std::filesystem::exists(dir)) {                                                 \
    GTEST_SKIP() << dir << " not found (run scripts/fetch_data.sh, or set KILN_DATA_DIR)"; \
  }

std::vector<std::vector<std::string>> column(const std::vector<TaggedSentence>& sentences, bool tags) {
  std::vector<std::vector<std::string>> out;
  for (const TaggedSentence& s : sentences) out.push_back(tags ? s.tags : s.tokens);
  return out;
}

// Reads DIR/train.tsv and DIR/SPLIT.tsv, encodes both with train's vocabularies
// (tags extended by DIR/tags.txt) and checks the counts of docs/DATA.md.
void check_tagging(const std::string& dir, const std::string& split, std::size_t train_sentences,
                   std::size_t split_sentences, int32_t train_tags, int32_t all_tags) {
  const std::vector<TaggedSentence> train = read_tagged(dir + "/train.tsv");
  const std::vector<TaggedSentence> other = read_tagged(dir + "/" + split + ".tsv");
  EXPECT_EQ(train.size(), train_sentences);
  EXPECT_EQ(other.size(), split_sentences);
  const Vocab words = Vocab::build(VocabKind::words, column(train, false));
  Vocab tags = Vocab::build(VocabKind::tags, column(train, true));
  EXPECT_EQ(tags.size(), train_tags);
  const Vocab declared = Vocab::load(dir + "/tags.txt", VocabKind::tags);
  // tags.txt lists train's tags first, in the vocabulary's own order.
  EXPECT_TRUE(std::equal(tags.tokens().begin(), tags.tokens().end(), declared.tokens().begin()));
  tags.extend(declared.tokens());
  EXPECT_EQ(tags.size(), all_tags);
  for (const auto* sentences : {&train, &other}) {
    const SequenceData data = encode_tagged(*sentences, words, tags, dir);
    check_lengths(data, default_bucket_bounds().back());
  }
}

TEST(TextCorpora, BrownPos) {
  const std::string dir = corpus_dir("brown-pos");
  KILN_REQUIRE_CORPUS(dir);
  check_tagging(dir, "test", 35523, 10127, 151, 190);
}

TEST(TextCorpora, PtbPos) {
  const std::string dir = corpus_dir("ptb-pos");
  KILN_REQUIRE_CORPUS(dir);
  check_tagging(dir, "test", 3000, 914, 41, 41);
}

TEST(TextCorpora, BrownLm) {
  const std::string dir = corpus_dir("brown-lm");
  KILN_REQUIRE_CORPUS(dir);
  const std::vector<TextLine> train = read_sentences(dir + "/train.txt");
  EXPECT_EQ(train.size(), 35523u);
  const Vocab words = Vocab::build(VocabKind::words, lm_sequences(train));
  EXPECT_EQ(words.size(), 13191);  // 13,189 types incl. <unk>, plus <pad> and <eos>
  const std::vector<int32_t> stream = encode_stream(read_sentences(dir + "/test.txt"), words);
  EXPECT_EQ(stream.size(), 161170u + 10127u);  // tokens + one <eos> per sentence
  EXPECT_GT(std::count(stream.begin(), stream.end(), Vocab::kUnk), 0);
}

TEST(TextCorpora, Spam) {
  const std::string dir = corpus_dir("spam");
  KILN_REQUIRE_CORPUS(dir);
  const std::vector<LabelledText> train = read_labelled(dir + "/train.tsv");
  const std::vector<LabelledText> test = read_labelled(dir + "/test.tsv");
  EXPECT_EQ(train.size(), 4837u);
  EXPECT_EQ(test.size(), 1209u);
  std::vector<std::vector<std::string>> words, labels;
  for (const LabelledText& t : train) {
    words.push_back(t.tokens);
    labels.push_back({t.label});
  }
  const Vocab label_vocab = Vocab::build(VocabKind::tags, labels);
  EXPECT_EQ(label_vocab.tokens(), (std::vector<std::string>{"ham", "spam"}));
  const SequenceData data = encode_labelled(test, Vocab::build(VocabKind::words, words), label_vocab, dir);
  EXPECT_EQ(std::count(data.labels.begin(), data.labels.end(), 1), 379);
  EXPECT_EQ(*std::max_element(data.lengths.begin(), data.lengths.end()), 200);
}

}  // namespace
}  // namespace kiln
