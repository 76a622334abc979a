#include "kiln/data/text.h"

#include <cctype>
#include <cstdint>
#include <functional>

#include "data/file_io.h"
#include "kiln/error.h"

namespace kiln {

namespace {

// Calls `visit(line_number, line)` for each line of `path` (without its '\n' or a
// trailing '\r'), after checking the line is well-formed UTF-8.
void for_each_line(const std::string& path, const std::function<void(int, const std::string&)>& visit) {
  const std::vector<uint8_t> bytes = data::read_file(path);
  KILN_CHECK(!bytes.empty(), path, ": the file is empty; expected text (see docs/DATA.md)");
  const std::string text(bytes.begin(), bytes.end());
  int number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++number;
    const std::size_t bad = invalid_utf8_offset(line);
    KILN_CHECK(bad == std::string::npos, path, ":", number, ": invalid UTF-8 at byte ", bad,
               " of the line (byte 0x", std::hex, int{static_cast<uint8_t>(line[bad])}, std::dec,
               "); convert the file to UTF-8");
    visit(number, line);
    start = end + 1;
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// The space-separated tokens of `text` (runs of spaces count as one separator; leading
// and trailing spaces are ignored, as in Mikolov's ptb.train.txt). A tab or another
// white-space character inside is an error.
std::vector<std::string> split_tokens(const std::string& text, const std::string& where) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && text[end] != ' ') {
      KILN_CHECK(!is_space(text[end]), where, ": white space other than ' ' (byte ", end,
                 ") inside a token; tokens are separated by single spaces");
      ++end;
    }
    tokens.push_back(text.substr(i, end - i));
    i = end;
  }
  return tokens;
}

// `field` must be non-empty and free of white space.
void check_field(const std::string& field, const char* what, const std::string& where) {
  KILN_CHECK(!field.empty(), where, ": empty ", what);
  for (char c : field) {
    KILN_CHECK(!is_space(c), where, ": the ", what, " '", field, "' holds white space");
  }
}

std::string location(const std::string& path, int line) { return path + ":" + std::to_string(line); }

void check_not_blank_only(bool any, const std::string& path) {
  KILN_CHECK(any, path, ": the file holds only blank lines; expected at least one sentence");
}

}  // namespace

std::vector<TaggedSentence> read_tagged(const std::string& path) {
  std::vector<TaggedSentence> sentences;
  bool open = false;  // the last line read belongs to sentences.back()
  for_each_line(path, [&](int number, const std::string& line) {
    if (line.empty()) {
      open = false;
      return;
    }
    const std::string where = location(path, number);
    const std::size_t tab = line.find('\t');
    KILN_CHECK(tab != std::string::npos, where, ": no tab; expected 'token<TAB>tag' (or a blank ",
               "line between sentences)");
    KILN_CHECK(line.find('\t', tab + 1) == std::string::npos, where,
               ": more than one tab; expected 'token<TAB>tag'");
    const std::string token = line.substr(0, tab), tag = line.substr(tab + 1);
    check_field(token, "token", where);
    check_field(tag, "tag", where);
    if (!open) sentences.push_back(TaggedSentence{{}, {}, number});
    open = true;
    sentences.back().tokens.push_back(token);
    sentences.back().tags.push_back(tag);
  });
  check_not_blank_only(!sentences.empty(), path);
  return sentences;
}

std::vector<TextLine> read_sentences(const std::string& path) {
  std::vector<TextLine> sentences;
  for_each_line(path, [&](int number, const std::string& line) {
    const std::string where = location(path, number);
    std::vector<std::string> tokens = split_tokens(line, where);
    KILN_CHECK(!tokens.empty(), where, ": empty sentence; expected one sentence per line, ",
               "tokens separated by spaces, no blank lines");
    sentences.push_back(TextLine{std::move(tokens), number});
  });
  return sentences;
}

std::vector<LabelledText> read_labelled(const std::string& path) {
  std::vector<LabelledText> texts;
  for_each_line(path, [&](int number, const std::string& line) {
    const std::string where = location(path, number);
    const std::size_t tab = line.find('\t');
    KILN_CHECK(tab != std::string::npos, where, ": no tab; expected 'label<TAB>text'");
    const std::string label = line.substr(0, tab);
    check_field(label, "label", where);
    std::vector<std::string> tokens = split_tokens(line.substr(tab + 1), where);
    KILN_CHECK(!tokens.empty(), where, ": empty text after the label '", label, "'");
    texts.push_back(LabelledText{label, std::move(tokens), number});
  });
  return texts;
}

std::size_t invalid_utf8_offset(const std::string& text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const uint8_t c = s[i];
    int extra;
    uint32_t min, code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1, min = 0x80, code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, min = 0x800, code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, min = 0x10000, code = c & 0x07;
    } else {
      return i;
    }
    if (i + extra >= n) return i;  // cut short by the end of the text
    for (int k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return i;
      code = (code << 6) | (s[i + k] & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += extra + 1;
  }
  return std::string::npos;
}

std::vector<std::string> utf8_characters(const std::string& token) {
  KILN_CHECK(invalid_utf8_offset(token) == std::string::npos, "utf8_characters: '", token,
             "' is not well-formed UTF-8");
  std::vector<std::string> characters;
  for (std::size_t i = 0; i < token.size();) {
    std::size_t length = 1;
    while (i + length < token.size() && (static_cast<uint8_t>(token[i + length]) & 0xc0) == 0x80) {
      ++length;
    }
    characters.push_back(token.substr(i, length));
    i += length;
  }
  return characters;
}

namespace {

std::string ascii_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string last_characters(const std::string& token, std::size_t count) {
  const std::vector<std::string> characters = utf8_characters(token);
  std::string out;
  for (std::size_t i = characters.size() > count ? characters.size() - count : 0; i < characters.size(); ++i) {
    out += characters[i];
  }
  return ascii_lower(out);
}

std::string spelling_shape(const std::string& token) {
  std::string shape;
  for (const std::string& c : utf8_characters(token)) {
    const auto first = static_cast<unsigned char>(c[0]);
    const std::string kind = c.size() > 1 ? "u"  // any non-ASCII character
                             : std::isupper(first) ? "X"
                             : std::islower(first) ? "x"
                             : std::isdigit(first) ? "d"
                                                   : c;
    if (shape.size() < kind.size() || shape.compare(shape.size() - kind.size(), kind.size(), kind) != 0) {
      shape += kind;
    }
  }
  return shape;
}

}  // namespace

bool is_token_feature(const std::string& name) {
  return name == "lower" || name == "suffix2" || name == "suffix3" || name == "shape";
}

std::string token_feature_names() { return "lower, suffix2, suffix3, shape"; }

std::string token_feature(const std::string& feature, const std::string& token) {
  if (feature == "lower") return ascii_lower(token);
  if (feature == "suffix2") return last_characters(token, 2);
  if (feature == "suffix3") return last_characters(token, 3);
  if (feature == "shape") return spelling_shape(token);
  throw Error("unknown token feature '" + feature + "'; features are " + token_feature_names());
}

}  // namespace kiln
