// IDX files (LeCun's MNIST format), plain or gzip-compressed.
//
// Layout: a 4-byte magic 0x00 0x00 <type> <rank> (type 0x08 = unsigned byte), then
// `rank` big-endian uint32 dimensions, then the data, row-major. Images are rank 3
// (magic 0x00000803: count, rows, cols), labels rank 1 (magic 0x00000801: count).
// Readers detect gzip by its magic bytes (1f 8b), not by the file name.
//
// Malformed input (missing file, bad magic, truncated data, dimensions that do not
// match the size, trailing bytes, a corrupt gzip stream) throws kiln::Error naming the
// file, the byte offset (of the decompressed data for gzip files) and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct IdxImages {
  int64_t count = 0;
  int rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols, row-major
};

IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);

// Both writers gzip the file when `path` ends in ".gz"; the write is atomic
// (temporary file, fsync, rename).
void write_idx_images(const std::string& path, const IdxImages& images);
void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels);

}  // namespace kiln
