// libFuzzer harness: kiln's text formats (data/text.h) and vocabulary files
// (data/vocab.h), and the token features of whatever tokens they accept. The first
// byte selects the reader: 0 tagged, 1 one sentence per line, 2 labelled, 3 a words
// vocabulary, 4 a tags vocabulary. Malformed files must give kiln::Error only.
#include <cstdint>

#include "fuzz/fuzz_file.h"
#include "kiln/data/text.h"
#include "kiln/data/vocab.h"
#include "kiln/error.h"

namespace {

void features_of(const std::vector<std::string>& tokens) {
  for (const std::string& token : tokens) {
    for (const char* feature : {"lower", "suffix2", "suffix3", "shape"}) {
      kiln::token_feature(feature, token);
    }
  }
}

void read(uint8_t selector, const std::string& path) {
  switch (selector % 5) {
    case 0:
      for (const kiln::TaggedSentence& s : kiln::read_tagged(path)) features_of(s.tokens);
      break;
    case 1:
      for (const kiln::TextLine& line : kiln::read_sentences(path)) features_of(line.tokens);
      break;
    case 2:
      for (const kiln::LabelledText& text : kiln::read_labelled(path)) features_of(text.tokens);
      break;
    case 3:
      kiln::Vocab::load(path, kiln::VocabKind::words);
      break;
    default:
      kiln::Vocab::load(path, kiln::VocabKind::tags);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string& path = kiln::fuzz::input_file(data + 1, size - 1);
  try {
    read(data[0], path);
  } catch (const kiln::Error&) {
  }
  return 0;
}
