// Vocabularies of words, tags or characters: token <-> id, built from the training
// split and saved in the run directory so that eval, predict and resume map text to the
// same ids. Ids are dense from 0; the most frequent token gets the smallest id after the
// reserved ones (ties: the token seen first), so a vocabulary is a pure function of its
// training text.
//   words, characters: id 0 = <pad> (padding), id 1 = <unk> (any token not in the
//                      vocabulary)
//   tags (and class labels): no reserved entries; an unknown tag is an error
// File format: UTF-8, one token per line in id order, nothing else (no header, no
// counts); a words/characters file starts with the lines <pad> and <unk>.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln {

enum class VocabKind { words, tags };

class Vocab {
 public:
  static constexpr int32_t kPad = 0, kUnk = 1;
  static constexpr const char* kPadToken = "<pad>";
  static constexpr const char* kUnkToken = "<unk>";

  // From the token sequences of a training split. A words vocabulary keeps the tokens
  // seen at least `min_count` times (the others map to <unk>); tags keep every one.
  static Vocab build(VocabKind kind, const std::vector<std::vector<std::string>>& sequences,
                     int min_count = 1);
  // Reads a file written by save(). A malformed file (an empty line, white space in a
  // token, invalid UTF-8, a token given twice, a words file not starting with <pad>,
  // <unk>) throws kiln::Error naming FILE:LINE.
  static Vocab load(const std::string& path, VocabKind kind);
  // Crash-safe (PATH.tmp, fsync, rename).
  void save(const std::string& path) const;

  // Appends the tokens not yet present, in the given order (e.g. a corpus's declared
  // tag set, tags.txt, extending the tags seen in train).
  void extend(const std::vector<std::string>& tokens);

  VocabKind kind() const { return kind_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool contains(const std::string& token) const { return ids_.count(token) != 0; }
  // Words: the token's id or kUnk. Tags: the tag's id; an unknown tag throws kiln::Error
  // naming `where` (e.g. FILE:LINE).
  int32_t id(const std::string& token, const std::string& where = "") const;
  const std::string& token(int32_t id) const;
  const std::vector<std::string>& tokens() const { return tokens_; }

  // Throws kiln::Error unless the vocabulary has `expected` entries: a vocabulary file
  // that does not belong to the weights (`what`, e.g. a checkpoint's embedding).
  void require_size(int64_t expected, const std::string& what) const;

 private:
  explicit Vocab(VocabKind kind);
  void add(const std::string& token);

  VocabKind kind_;
  std::string source_ = "the vocabulary";  // the file it was loaded from, for messages
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace kiln
