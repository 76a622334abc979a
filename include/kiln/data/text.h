// Readers of kiln's text formats (docs/DATA.md), UTF-8 throughout:
//   tagging         one `token<TAB>tag` per line, a blank line between sentences
//   language model  one sentence per line, tokens separated by spaces
//   classification  one `label<TAB>text` per line, the text's words separated by spaces
// A bad line (no tab, an empty token or tag, white space inside a token, invalid UTF-8,
// a blank line in a one-sentence-per-line file) and a file holding no sentence throw
// kiln::Error naming FILE:LINE and the problem. A trailing '\r' (CRLF files) is ignored.
#pragma once

#include <string>
#include <vector>

namespace kiln {

struct TaggedSentence {
  std::vector<std::string> tokens, tags;
  int first_line = 0;  // token k is on line first_line + k (1-based)
};

struct TextLine {
  std::vector<std::string> tokens;
  int line = 0;  // 1-based
};

struct LabelledText {
  std::string label;
  std::vector<std::string> tokens;
  int line = 0;
};

std::vector<TaggedSentence> read_tagged(const std::string& path);
std::vector<TextLine> read_sentences(const std::string& path);
std::vector<LabelledText> read_labelled(const std::string& path);

// Token features a model may take besides the words (input layers with `feature:`), each
// a string function of the token whose values get their own vocabulary:
//   lower     the token lowercased (ASCII)
//   suffix2, suffix3   its last 2 or 3 characters, lowercased (the whole token if shorter)
//   shape     its spelling pattern: each run of upper-case letters X, lower-case x, digits
//             d, other characters as they are (runs cut to 1), e.g. "McCain" -> "XxXx",
//             "1,000" -> "d,d", "--" -> "-"
// Taggers use them for words the training split never shows (Huang et al. 2015 used
// spelling features; suffixes carry much of English morphology).
bool is_token_feature(const std::string& name);
std::string token_feature_names();  // "lower, suffix2, suffix3, shape"
// Throws kiln::Error for an unknown feature.
std::string token_feature(const std::string& feature, const std::string& token);

// The offset of the first byte of `text` that does not start a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF are not), or
// npos when all of it is well formed.
std::size_t invalid_utf8_offset(const std::string& text);

// The characters (code points, each as its UTF-8 bytes) of well-formed UTF-8 `token`.
std::vector<std::string> utf8_characters(const std::string& token);

}  // namespace kiln
