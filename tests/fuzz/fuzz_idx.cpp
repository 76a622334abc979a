// libFuzzer harness: IDX files as found on disk (plain, or gzip streams the
// mutator damages). The first byte picks the reader (images or labels). Every
// malformed file must give kiln::Error; anything else (a crash, a sanitizer
// report, another exception, an allocation over the cap) is a bug.
#include <cstdint>

#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string& path = kiln::fuzz::input_file(data + 1, size - 1);
  kiln::fuzz::read_idx(data[0], path);
  return 0;
}
