// libFuzzer harness: the input, gzipped by the harness, as an IDX file, so the
// mutator works on the decompressed structure (dimensions, sizes) and every
// input goes through the gzip path and its size cap. The first byte picks the
// reader (images or labels).
#include <cstdint>
#include <vector>

#include <zlib.h>

#include <cstdlib>

#include "fuzz/fuzz_file.h"

namespace {

// A gzip stream of `bytes` with a small window and little memory: kiln's own
// gzip() (level 9, full memory) would cost more than the reader being fuzzed.
std::vector<uint8_t> small_gzip(const uint8_t* bytes, std::size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<uint8_t> out(deflateBound(&z, static_cast<uLong>(size)));
  z.next_in = const_cast<Bytef*>(bytes);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::vector<uint8_t> compressed = small_gzip(data + 1, size - 1);
  kiln::fuzz::read_idx(data[0], kiln::fuzz::input_file(compressed.data(), compressed.size()));
  return 0;
}
