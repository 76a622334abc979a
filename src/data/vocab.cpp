#include "kiln/data/vocab.h"

#include <algorithm>

#include "data/file_io.h"
#include "kiln/data/text.h"
#include "kiln/error.h"

namespace kiln {

namespace {

const char* kind_name(VocabKind kind) { return kind == VocabKind::words ? "words" : "tags"; }

// The lines of `path` (the file must end with '\n'; no '\r' allowed).
std::vector<std::string> lines_of(const std::string& path) {
  const std::vector<uint8_t> bytes = data::read_file(path);
  KILN_CHECK(!bytes.empty(), path, ": the vocabulary file is empty");
  KILN_CHECK(bytes.back() == '\n', path, ": the vocabulary file does not end with a newline ",
             "(cut short?); delete it to rebuild it from the training data");
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line.push_back(static_cast<char>(bytes[i]));
    }
  }
  return lines;
}

void check_entry(const std::string& token, const std::string& where) {
  KILN_CHECK(!token.empty(), where, ": empty vocabulary entry");
  KILN_CHECK(invalid_utf8_offset(token) == std::string::npos, where, ": invalid UTF-8");
  KILN_CHECK(token.find_first_of(" \t\r\v\f") == std::string::npos, where, ": the entry '",
             token, "' holds white space");
}

}  // namespace

Vocab::Vocab(VocabKind kind) : kind_(kind) {
  if (kind_ == VocabKind::words) {
    add(kPadToken);
    add(kUnkToken);
  }
}

void Vocab::add(const std::string& token) {
  ids_.emplace(token, size());
  tokens_.push_back(token);
}

Vocab Vocab::build(VocabKind kind, const std::vector<std::vector<std::string>>& sequences,
                   int min_count) {
  KILN_CHECK(min_count >= 1, "Vocab::build: min_count must be >= 1, got ", min_count);
  std::unordered_map<std::string, int64_t> counts;
  std::vector<std::string> first_seen;
  for (const auto& sequence : sequences) {
    for (const std::string& token : sequence) {
      if (counts[token]++ == 0) first_seen.push_back(token);
    }
  }
  // Stable: equal counts keep the order of first occurrence.
  std::stable_sort(first_seen.begin(), first_seen.end(),
                   [&](const std::string& a, const std::string& b) { return counts[a] > counts[b]; });
  Vocab vocab(kind);
  for (const std::string& token : first_seen) {
    if (kind == VocabKind::tags || (counts[token] >= min_count && !vocab.contains(token))) {
      vocab.add(token);
    }
  }
  return vocab;
}

Vocab Vocab::load(const std::string& path, VocabKind kind) {
  const std::vector<std::string> lines = lines_of(path);
  Vocab vocab(kind);
  vocab.source_ = path;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1);
    check_entry(lines[i], where);
    if (kind == VocabKind::words && i < 2) {
      KILN_CHECK(lines[i] == vocab.tokens_[i], where, ": a words vocabulary starts with ",
                 kPadToken, " and ", kUnkToken, " (ids 0 and 1), got '", lines[i],
                 "'; is this a tags file?");
      continue;
    }
    KILN_CHECK(!vocab.contains(lines[i]), where, ": '", lines[i], "' is already line ",
               vocab.ids_.at(lines[i]) + 1);
    vocab.add(lines[i]);
  }
  KILN_CHECK(vocab.size() > (kind == VocabKind::words ? 2 : 0), path, ": the ", kind_name(kind),
             " vocabulary holds no entries");
  return vocab;
}

void Vocab::save(const std::string& path) const {
  std::string text;
  for (const std::string& token : tokens_) text += token + "\n";
  data::write_file_atomically(path, {{text.data(), text.size()}});
}

void Vocab::extend(const std::vector<std::string>& tokens) {
  for (const std::string& token : tokens) {
    check_entry(token, "Vocab::extend");
    if (!contains(token)) add(token);
  }
}

int32_t Vocab::id(const std::string& token, const std::string& where) const {
  const auto found = ids_.find(token);
  if (found != ids_.end()) return found->second;
  KILN_CHECK(kind_ == VocabKind::words, where.empty() ? "" : where + ": ", "the tag '", token,
             "' is not in ", source_, " (", size(), " tags, from the training split",
             source_ == "the vocabulary" ? "" : " or the file", "); every tag must occur in train",
             " (or be listed in the data set's tags.txt)");
  return kUnk;
}

const std::string& Vocab::token(int32_t id) const {
  KILN_CHECK(id >= 0 && id < size(), "Vocab::token: id ", id, " outside [0, ", size(), ") of ",
             source_);
  return tokens_[static_cast<std::size_t>(id)];
}

void Vocab::require_size(int64_t expected, const std::string& what) const {
  KILN_CHECK(size() == expected, source_, " holds ", size(), " ", kind_name(kind_), " but ", what,
             " needs ", expected, ": the vocabulary does not belong to these weights (use the ",
             "run directory's own vocabulary files)");
}

}  // namespace kiln
