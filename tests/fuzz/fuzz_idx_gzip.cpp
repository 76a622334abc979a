// libFuzzer harness: the input, gzipped by the harness, as an IDX file, so the
// mutator works on the decompressed structure (dimensions, sizes) and every
// input goes through the gzip path and its size cap. The first byte picks the
// reader (images or labels).
#include <cstdint>
#include <vector>

#include "data/file_io.h"
#include "fuzz/fuzz_file.h"
#include "kiln/data/idx.h"
#include "kiln/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::vector<uint8_t> compressed = kiln::data::gzip({data + 1, data + size});
  const std::string& path = kiln::fuzz::input_file(compressed.data(), compressed.size());
  try {
    if (data[0] & 1) {
      kiln::read_idx_labels(path);
    } else {
      kiln::read_idx_images(path);
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}
