#include "kiln/data/idx.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "data/file_io.h"
#include "kiln/error.h"

namespace kiln {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;
constexpr const char* kFix = "; the file is damaged or not an IDX file: delete it and re-run scripts/fetch_data.sh";

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

std::string describe_magic(uint32_t magic) {
  if (magic == kImagesMagic) return "an IDX image file (0x00000803)";
  if (magic == kLabelsMagic) return "an IDX label file (0x00000801)";
  if ((magic >> 16) == 0x1f8b) return "gzip data inside gzip data";
  return "not an IDX ubyte magic";
}

// An IDX file's decompressed bytes, checked to hold the expected magic and exactly
// the data its dimensions announce. Returns the dimensions; the data follows them.
struct IdxContents {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> dims;
  std::size_t data_offset = 0;
};

uint64_t header_bytes(int rank) { return 4 + 4 * static_cast<uint64_t>(rank); }

// The data bytes the dimensions in `bytes` announce (saturating far above any real file).
uint64_t announced_data(const std::vector<uint8_t>& bytes, int rank) {
  uint64_t expected = 1;
  for (int d = 0; d < rank; ++d) {
    const uint32_t dim = read_be32(bytes.data() + 4 + 4 * d);
    expected = expected > (uint64_t{1} << 40) ? expected : expected * dim;
  }
  return expected;
}

// A gzip file inflated no further than its header announces (plus a little, to
// name trailing bytes): a small file claiming a small data set cannot inflate to
// gigabytes (a gzip bomb).
std::vector<uint8_t> inflate_idx(const std::vector<uint8_t>& compressed, const std::string& path,
                                 int rank) {
  constexpr uint64_t kTrailingShown = 4096;
  bool more = false;
  const std::vector<uint8_t> head = data::gunzip(compressed, path, header_bytes(rank), &more);
  if (!more || head.size() < header_bytes(rank)) return data::gunzip(compressed, path);
  const uint64_t cap = header_bytes(rank) + announced_data(head, rank) + kTrailingShown;
  std::vector<uint8_t> bytes =
      data::gunzip(compressed, path, static_cast<std::size_t>(std::min<uint64_t>(cap, SIZE_MAX)), &more);
  KILN_CHECK(!more, path, ": the decompressed data goes on past byte offset ", cap,
             ", more than its header's dimensions announce (", cap - kTrailingShown,
             " bytes); decompression stopped there (a damaged file or a gzip bomb)", kFix);
  return bytes;
}

IdxContents read_idx(const std::string& path, uint32_t expected_magic, int rank) {
  IdxContents idx;
  idx.bytes = data::read_file(path);
  const bool gz = data::is_gzip(idx.bytes.data(), idx.bytes.size());
  if (gz) idx.bytes = inflate_idx(idx.bytes, path, rank);
  const char* where = gz ? " of the decompressed data" : "";
  const std::size_t header = header_bytes(rank);
  KILN_CHECK(idx.bytes.size() >= 4, path, ": truncated header: ", idx.bytes.size(),
             " bytes, too short for the 4-byte magic", kFix);
  const uint32_t magic = read_be32(idx.bytes.data());
  if (magic != expected_magic) {
    char text[11];
    std::snprintf(text, sizeof text, "0x%08x", magic);
    throw Error(detail::concat(path, ": bad magic ", text, " at byte offset 0", where,
                               " (", describe_magic(magic), "); expected ",
                               describe_magic(expected_magic), kFix));
  }
  KILN_CHECK(idx.bytes.size() >= header, path, ": truncated header: ", idx.bytes.size(),
             " bytes, an IDX file of rank ", rank, " needs a ", header, "-byte header", kFix);
  for (int d = 0; d < rank; ++d) {
    const std::size_t offset = 4 + 4 * static_cast<std::size_t>(d);
    const uint32_t dim = read_be32(idx.bytes.data() + offset);
    KILN_CHECK(dim > 0 || d == 0, path, ": dimension ", d, " at byte offset ", offset, where,
               " is 0", kFix);
    idx.dims.push_back(dim);
  }
  const uint64_t expected_data = announced_data(idx.bytes, rank);
  idx.data_offset = header;
  const uint64_t present = idx.bytes.size() - header;
  if (present < expected_data) {
    throw Error(detail::concat(path, ": truncated data: the dimensions announce ",
                               expected_data, " bytes after the ", header,
                               "-byte header, but the data ends at byte offset ",
                               idx.bytes.size(), where, " (", present, " bytes)", kFix));
  }
  if (present > expected_data) {
    throw Error(detail::concat(path, ": trailing garbage: ", present - expected_data,
                               " bytes after the end of the data at byte offset ",
                               header + expected_data, where,
                               " (the dimensions do not match the file size)", kFix));
  }
  return idx;
}

void write_idx(const std::string& path, std::vector<uint8_t> bytes) {
  if (data::ends_with(path, ".gz")) bytes = data::gzip(bytes);
  data::write_file_atomically(path, {{bytes.data(), bytes.size()}});
}

uint32_t checked_dim(int64_t value, const char* name, const std::string& path) {
  KILN_CHECK(value >= 0 && value <= int64_t{0xffffffff}, path, ": cannot write ", name, " ",
             value, " as an IDX dimension (uint32)");
  return static_cast<uint32_t>(value);
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  IdxContents idx = read_idx(path, kImagesMagic, 3);
  KILN_CHECK(idx.dims[1] <= 65535 && idx.dims[2] <= 65535, path, ": image size ", idx.dims[1],
             "x", idx.dims[2], " (bytes 8..15) is implausible", kFix);
  IdxImages images;
  images.count = idx.dims[0];
  images.rows = static_cast<int>(idx.dims[1]);
  images.cols = static_cast<int>(idx.dims[2]);
  images.pixels.assign(idx.bytes.begin() + static_cast<std::ptrdiff_t>(idx.data_offset),
                       idx.bytes.end());
  return images;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  IdxContents idx = read_idx(path, kLabelsMagic, 1);
  return {idx.bytes.begin() + static_cast<std::ptrdiff_t>(idx.data_offset), idx.bytes.end()};
}

void write_idx_images(const std::string& path, const IdxImages& images) {
  const uint64_t expected = static_cast<uint64_t>(images.count) *
                            static_cast<uint64_t>(images.rows) * static_cast<uint64_t>(images.cols);
  KILN_CHECK(images.rows > 0 && images.cols > 0 && images.pixels.size() == expected, path,
             ": cannot write ", images.count, " images of ", images.rows, "x", images.cols,
             " from ", images.pixels.size(), " pixels");
  std::vector<uint8_t> bytes;
  bytes.reserve(16 + images.pixels.size());
  append_be32(bytes, kImagesMagic);
  append_be32(bytes, checked_dim(images.count, "image count", path));
  append_be32(bytes, checked_dim(images.rows, "row count", path));
  append_be32(bytes, checked_dim(images.cols, "column count", path));
  bytes.insert(bytes.end(), images.pixels.begin(), images.pixels.end());
  write_idx(path, std::move(bytes));
}

void write_idx_labels(const std::string& path, const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> bytes;
  bytes.reserve(8 + labels.size());
  append_be32(bytes, kLabelsMagic);
  append_be32(bytes, checked_dim(static_cast<int64_t>(labels.size()), "label count", path));
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  write_idx(path, std::move(bytes));
}

}  // namespace kiln
