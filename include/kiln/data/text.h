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

// The offset of the first byte of `text` that does not start a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF are not), or
// npos when all of it is well formed.
std::size_t invalid_utf8_offset(const std::string& text);

// The characters (code points, each as its UTF-8 bytes) of well-formed UTF-8 `token`.
std::vector<std::string> utf8_characters(const std::string& token);

}  // namespace kiln
