// Vocabularies (kiln/data/vocab.h): deterministic ids, reserved entries, the file
// round trip and the rejection of malformed or mismatched files.
#include "kiln/data/vocab.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/temp_dir.h"

namespace kiln {
namespace {

using test::TempDir;
using test::throws_error_with;

using Sequences = std::vector<std::vector<std::string>>;

TEST(Vocab, WordsByFrequencyTiesByFirstOccurrence) {
  const Sequences text{{"b", "a", "c", "a"}, {"d", "c", "a", "e"}};
  const Vocab words = Vocab::build(VocabKind::words, text);
  // a x3; c x2; b, d, e x1 in order of first occurrence.
  EXPECT_EQ(words.tokens(), (std::vector<std::string>{"<pad>", "<unk>", "a", "c", "b", "d", "e"}));
  EXPECT_EQ(words.id("<pad>"), Vocab::kPad);
  EXPECT_EQ(words.id("c"), 3);
  EXPECT_EQ(words.id("never seen"), Vocab::kUnk);
  EXPECT_EQ(words.token(2), "a");
  EXPECT_TRUE(throws_error_with([&] { words.token(7); }, {"id 7", "[0, 7)"}));

  const Vocab frequent = Vocab::build(VocabKind::words, text, 2);
  EXPECT_EQ(frequent.tokens(), (std::vector<std::string>{"<pad>", "<unk>", "a", "c"}));
  EXPECT_EQ(frequent.id("b"), Vocab::kUnk);
  // A corpus already holding <unk> (Brown LM) maps it to the reserved id.
  EXPECT_EQ(Vocab::build(VocabKind::words, {{"<unk>", "x", "<unk>"}}).size(), 3);
}

TEST(Vocab, TagsHaveNoReservedEntriesAndRejectUnknownTags) {
  Vocab tags = Vocab::build(VocabKind::tags, {{"nn", "vb", "nn"}, {"jj"}});
  EXPECT_EQ(tags.tokens(), (std::vector<std::string>{"nn", "vb", "jj"}));
  EXPECT_TRUE(throws_error_with([&] { tags.id("rb", "test.tsv:7"); },
                                {"test.tsv:7", "the tag 'rb'", "every tag must occur in train"}));
  tags.extend({"jj", "rb", "uh"});
  EXPECT_EQ(tags.tokens(), (std::vector<std::string>{"nn", "vb", "jj", "rb", "uh"}));
  EXPECT_EQ(tags.id("rb"), 3);
}

TEST(Vocab, RoundTripsThroughItsFile) {
  TempDir dir;
  const Vocab words = Vocab::build(VocabKind::words, {{"x", "caf\xc3\xa9", "x", "!"}});
  words.save(dir.file("words.txt"));
  EXPECT_EQ(test::read_bytes(dir.file("words.txt")),
            std::vector<uint8_t>({'<', 'p', 'a', 'd', '>', '\n', '<', 'u', 'n', 'k', '>', '\n', 'x', '\n',
                                  'c', 'a', 'f', 0xc3, 0xa9, '\n', '!', '\n'}));
  const Vocab loaded = Vocab::load(dir.file("words.txt"), VocabKind::words);
  EXPECT_EQ(loaded.tokens(), words.tokens());
  EXPECT_EQ(loaded.id("x"), words.id("x"));
  const Vocab tags = Vocab::build(VocabKind::tags, {{"nn", "vb"}});
  tags.save(dir.file("tags.txt"));
  EXPECT_EQ(Vocab::load(dir.file("tags.txt"), VocabKind::tags).tokens(), tags.tokens());
}

TEST(Vocab, RejectsMalformedAndMismatchedFiles) {
  TempDir dir;
  const auto fails = [&](const std::string& text, VocabKind kind, const std::vector<std::string>& parts) {
    const std::string path = dir.file("v.txt");
    std::ofstream(path, std::ios::binary) << text;
    return throws_error_with([&] { Vocab::load(path, kind); }, parts);
  };
  EXPECT_TRUE(fails("nn\nvb\n", VocabKind::words, {"v.txt:1", "starts with <pad> and <unk>"}));
  EXPECT_TRUE(fails("<pad>\n<unk>\na\n\nb\n", VocabKind::words, {"v.txt:4", "empty"}));
  EXPECT_TRUE(fails("nn\nvb\nnn\n", VocabKind::tags, {"v.txt:3", "'nn' is already line 1"}));
  EXPECT_TRUE(fails("nn\nv b\n", VocabKind::tags, {"v.txt:2", "white space"}));
  EXPECT_TRUE(fails("nn\n\xff\n", VocabKind::tags, {"v.txt:2", "invalid UTF-8"}));
  EXPECT_TRUE(fails("nn\nvb", VocabKind::tags, {"v.txt", "does not end with a newline"}));
  EXPECT_TRUE(fails("", VocabKind::tags, {"v.txt", "empty"}));
  EXPECT_TRUE(fails("<pad>\n<unk>\n", VocabKind::words, {"v.txt", "no entries"}));

  const Vocab words = Vocab::build(VocabKind::words, {{"a", "b"}});
  words.save(dir.file("words.txt"));
  const Vocab loaded = Vocab::load(dir.file("words.txt"), VocabKind::words);
  loaded.require_size(4, "the embedding");
  EXPECT_TRUE(throws_error_with([&] { loaded.require_size(5, "the embedding [5, 16]"); },
                                {dir.file("words.txt"), "holds 4 words", "the embedding [5, 16] needs 5"}));
}

}  // namespace
}  // namespace kiln
