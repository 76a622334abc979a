// The text readers (kiln/data/text.h): the three formats, and every bad line reported
// with its file and line number.
#include "kiln/data/text.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/temp_dir.h"

namespace kiln {
namespace {

using test::TempDir;
using test::throws_error_with;

std::string write_text(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(ReadTagged, ReadsSentencesSeparatedByBlankLines) {
  TempDir dir;
  const std::string path =
      write_text(dir, "t.tsv", "The\tat\ndog\tnn\r\n\n\nbarks\tvbz\n.\t.\n\ncafé\tnn\n");
  const std::vector<TaggedSentence> s = read_tagged(path);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].tokens, (std::vector<std::string>{"The", "dog"}));
  EXPECT_EQ(s[0].tags, (std::vector<std::string>{"at", "nn"}));  // CR dropped
  EXPECT_EQ(s[0].first_line, 1);
  EXPECT_EQ(s[1].tokens, (std::vector<std::string>{"barks", "."}));
  EXPECT_EQ(s[1].first_line, 5);
  EXPECT_EQ(s[2].tokens, std::vector<std::string>{"café"});
  EXPECT_EQ(s[2].first_line, 8);
}

TEST(ReadTagged, NamesFileAndLineOfEveryBadLine) {
  TempDir dir;
  const auto fails = [&](const std::string& text, const std::vector<std::string>& parts) {
    const std::string path = write_text(dir, "bad.tsv", text);
    std::vector<std::string> all{path + ":"};
    all.insert(all.end(), parts.begin(), parts.end());
    return throws_error_with([&] { read_tagged(path); }, all);
  };
  EXPECT_TRUE(fails("a\tb\nno tab here\n", {"bad.tsv:2", "no tab"}));
  EXPECT_TRUE(fails("a\tb\n\tnn\n", {"bad.tsv:2", "empty token"}));
  EXPECT_TRUE(fails("a\tb\n\nc\t\n", {"bad.tsv:3", "empty tag"}));
  EXPECT_TRUE(fails("a\tb\tc\n", {"bad.tsv:1", "more than one tab"}));
  EXPECT_TRUE(fails("a b\tnn\n", {"bad.tsv:1", "'a b'", "white space"}));
  EXPECT_TRUE(fails("ok\tnn\nbad\xff\tnn\n", {"bad.tsv:2", "invalid UTF-8 at byte 3"}));
  EXPECT_TRUE(fails("over\xc0\xaflong\tnn\n", {"bad.tsv:1", "invalid UTF-8 at byte 4"}));
  EXPECT_TRUE(fails("\n\n\r\n", {"only blank lines"}));
  EXPECT_TRUE(fails("", {"the file is empty"}));
  EXPECT_TRUE(throws_error_with([&] { read_tagged(dir.file("missing.tsv")); }, {"missing.tsv"}));
}

TEST(ReadSentences, SplitsOnSpacesAndRejectsEmptySentences) {
  TempDir dir;
  const std::string path = write_text(dir, "lm.txt", " the cat sat \non  the mat\n");
  const std::vector<TextLine> s = read_sentences(path);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].tokens, (std::vector<std::string>{"the", "cat", "sat"}));
  EXPECT_EQ(s[1].tokens, (std::vector<std::string>{"on", "the", "mat"}));
  EXPECT_EQ(s[1].line, 2);

  const std::string blank = write_text(dir, "blank.txt", "a b\n\nc\n");
  EXPECT_TRUE(throws_error_with([&] { read_sentences(blank); }, {"blank.txt:2", "empty sentence"}));
  const std::string tab = write_text(dir, "tab.txt", "a b\nc\td\n");
  EXPECT_TRUE(throws_error_with([&] { read_sentences(tab); }, {"tab.txt:2", "white space"}));
  const std::string utf = write_text(dir, "utf.txt", "a \xe2\x82\n");
  EXPECT_TRUE(throws_error_with([&] { read_sentences(utf); }, {"utf.txt:1", "invalid UTF-8 at byte 2"}));
  const std::string empty = write_text(dir, "empty.txt", "");
  EXPECT_TRUE(throws_error_with([&] { read_sentences(empty); }, {"empty.txt", "empty"}));
}

TEST(ReadLabelled, ReadsLabelAndWords) {
  TempDir dir;
  const std::string path = write_text(dir, "c.tsv", "spam\tbuy now\nham\thello there friend\n");
  const std::vector<LabelledText> t = read_labelled(path);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].label, "spam");
  EXPECT_EQ(t[0].tokens, (std::vector<std::string>{"buy", "now"}));
  EXPECT_EQ(t[1].label, "ham");
  EXPECT_EQ(t[1].line, 2);

  const std::string no_tab = write_text(dir, "n.tsv", "spam\tx\nham hello\n");
  EXPECT_TRUE(throws_error_with([&] { read_labelled(no_tab); }, {"n.tsv:2", "no tab"}));
  const std::string no_text = write_text(dir, "e.tsv", "spam\t  \n");
  EXPECT_TRUE(throws_error_with([&] { read_labelled(no_text); }, {"e.tsv:1", "empty text"}));
  const std::string no_label = write_text(dir, "l.tsv", "\tword\n");
  EXPECT_TRUE(throws_error_with([&] { read_labelled(no_label); }, {"l.tsv:1", "empty label"}));
}

TEST(Utf8, ValidatesAndSplitsCharacters) {
  EXPECT_EQ(invalid_utf8_offset("plain ascii"), std::string::npos);
  EXPECT_EQ(invalid_utf8_offset("na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80"), std::string::npos);
  EXPECT_EQ(invalid_utf8_offset("\xed\xa0\x80"), 0u);          // a surrogate
  EXPECT_EQ(invalid_utf8_offset("ab\xf4\x90\x80\x80"), 2u);    // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("ab\xe0\x80\xaf"), 2u);        // overlong
  EXPECT_EQ(invalid_utf8_offset("abc\x80"), 3u);               // stray continuation
  EXPECT_EQ(invalid_utf8_offset("abc\xf0\x9f\x98"), 3u);       // cut short
  EXPECT_EQ(utf8_characters("a\xc3\xaf\xe2\x82\xac"),
            (std::vector<std::string>{"a", "\xc3\xaf", "\xe2\x82\xac"}));
}

TEST(TokenFeature, LowerSuffixesAndShape) {
  EXPECT_EQ(token_feature("lower", "McCain"), "mccain");
  EXPECT_EQ(token_feature("suffix2", "Running"), "ng");
  EXPECT_EQ(token_feature("suffix3", "Running"), "ing");
  EXPECT_EQ(token_feature("suffix3", "Go"), "go");  // shorter than 3: the whole token
  // Characters, not bytes: the last two of "café" are "f" and "é" (2 bytes).
  EXPECT_EQ(token_feature("suffix2", "caf\xc3\xa9"), "f\xc3\xa9");
  EXPECT_EQ(token_feature("shape", "McCain"), "XxXx");
  EXPECT_EQ(token_feature("shape", "1,000"), "d,d");
  EXPECT_EQ(token_feature("shape", "--"), "-");
  EXPECT_EQ(token_feature("shape", "U.S."), "X.X.");
  EXPECT_EQ(token_feature("shape", "na\xc3\xafve"), "xux");
  EXPECT_TRUE(is_token_feature("shape"));
  EXPECT_FALSE(is_token_feature("prefix2"));
  EXPECT_TRUE(test::throws_error_with([] { token_feature("prefix2", "a"); },
                                      {"unknown token feature 'prefix2'", "suffix3"}));
}

}  // namespace
}  // namespace kiln
