// IDX reader and writer: round trips (plain and gzip) and every kind of malformed file.
#include "kiln/data/idx.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

#include "core/temp_dir.h"
#include "data/file_io.h"

namespace kiln {
namespace {

using test::read_bytes;
using test::TempDir;
using test::throws_error_with;
using test::write_bytes;

IdxImages sample_images(int64_t count, int rows, int cols) {
  IdxImages images;
  images.count = count;
  images.rows = rows;
  images.cols = cols;
  for (int64_t i = 0; i < count * rows * cols; ++i) {
    images.pixels.push_back(static_cast<uint8_t>((i * 37 + 11) % 256));
  }
  return images;
}

void expect_same(const IdxImages& a, const IdxImages& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.pixels, b.pixels);
}

TEST(Idx, RoundTripPlainAndGzip) {
  TempDir dir;
  const IdxImages images = sample_images(5, 3, 7);
  const std::vector<uint8_t> labels = {0, 9, 3, 255, 1};
  for (const std::string suffix : {"", ".gz"}) {
    const std::string image_path = dir.file("images" + suffix);
    const std::string label_path = dir.file("labels" + suffix);
    write_idx_images(image_path, images);
    write_idx_labels(label_path, labels);
    expect_same(read_idx_images(image_path), images);
    EXPECT_EQ(read_idx_labels(label_path), labels);
    const std::vector<uint8_t> bytes = read_bytes(image_path);
    const bool gzip_magic = bytes.size() > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
    EXPECT_EQ(gzip_magic, suffix == ".gz");
  }
  // The plain layout, byte for byte: magic, big-endian dims, data.
  const std::vector<uint8_t> plain = read_bytes(dir.file("labels"));
  const std::vector<uint8_t> expected = {0, 0, 8, 1, 0, 0, 0, 5, 0, 9, 3, 255, 1};
  EXPECT_EQ(plain, expected);
}

TEST(Idx, GzipIsDetectedByContentNotName) {
  TempDir dir;
  const IdxImages images = sample_images(2, 4, 4);
  write_idx_images(dir.file("a.gz"), images);
  std::filesystem::rename(dir.file("a.gz"), dir.file("a-no-suffix"));
  expect_same(read_idx_images(dir.file("a-no-suffix")), images);
  write_idx_images(dir.file("b"), images);
  std::filesystem::rename(dir.file("b"), dir.file("b.gz"));
  expect_same(read_idx_images(dir.file("b.gz")), images);
}

TEST(Idx, EmptyLabelFileRoundTrips) {
  TempDir dir;
  write_idx_labels(dir.file("none"), {});
  EXPECT_TRUE(read_idx_labels(dir.file("none")).empty());
}

TEST(Idx, MissingFile) {
  TempDir dir;
  const std::string path = dir.file("absent-images");
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); }, {path, "cannot open"}));
}

TEST(Idx, BadMagicSaysWhatTheFileIs) {
  TempDir dir;
  const std::string path = dir.file("labels");
  write_idx_labels(path, {1, 2, 3});
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); },
                                {path, "bad magic 0x00000801", "byte offset 0", "label file",
                                 "fetch_data.sh"}));
  write_bytes(path, {'h', 'e', 'l', 'l', 'o', '!', '!', '!', 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); },
                                {path, "bad magic 0x68656c6c", "not an IDX"}));
}

TEST(Idx, TruncatedHeader) {
  TempDir dir;
  const std::string path = dir.file("short");
  write_bytes(path, {0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); },
                                {path, "truncated header", "10 bytes", "16-byte header"}));
}

TEST(Idx, TruncatedDataNamesTheOffset) {
  TempDir dir;
  const std::string path = dir.file("images");
  write_idx_images(path, sample_images(3, 2, 2));
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes.resize(bytes.size() - 5);
  write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); },
                                {path, "truncated data", "announce 12 bytes",
                                 "byte offset 23", "(7 bytes)"}));
}

TEST(Idx, DimensionsThatDoNotMatchTheSize) {
  TempDir dir;
  const std::string path = dir.file("labels");
  // Announces 2 labels, holds 4: the extra bytes are named as trailing garbage.
  write_bytes(path, {0, 0, 8, 1, 0, 0, 0, 2, 7, 7, 7, 7});
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); },
                                {path, "trailing garbage", "2 bytes", "byte offset 10"}));
  // A zero row count cannot describe any image.
  write_bytes(path, {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4});
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); },
                                {path, "dimension 1", "byte offset 8", "is 0"}));
  // Enormous dimensions must not overflow into a match.
  write_bytes(path, {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0, 1});
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); }, {path, "truncated data"}));
}

TEST(Idx, DamageInsideGzipFileUsesDecompressedOffsets) {
  TempDir dir;
  const std::string path = dir.file("labels.gz");
  write_bytes(path, data::gzip({0, 0, 8, 1, 0, 0, 0, 1, 4, 9}));
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); },
                                {path, "trailing garbage", "1 bytes",
                                 "byte offset 9 of the decompressed data"}));
}

TEST(Idx, CorruptGzipStream) {
  TempDir dir;
  const std::string path = dir.file("images.gz");
  write_idx_images(path, sample_images(40, 9, 9));
  std::vector<uint8_t> bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 40u);
  for (std::size_t i = 12; i < 24; ++i) bytes[i] ^= 0x5a;
  write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(path); },
                                {path, "corrupt gzip stream", "compressed byte offset",
                                 "fetch_data.sh"}));
}

TEST(Idx, CorruptGzipChecksum) {
  TempDir dir;
  const std::string path = dir.file("labels.gz");
  write_idx_labels(path, std::vector<uint8_t>(100, 3));
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[bytes.size() - 6] ^= 0xff;  // inside the CRC-32 of the trailer
  write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); }, {path, "corrupt gzip stream"}));
}

TEST(Idx, TruncatedGzipStream) {
  TempDir dir;
  const std::string path = dir.file("labels.gz");
  write_idx_labels(path, std::vector<uint8_t>(1000, 7));
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes.resize(bytes.size() / 2);
  write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); },
                                {path, "truncated gzip stream", "compressed byte offset"}));
}

TEST(Idx, BytesAfterTheGzipStream) {
  TempDir dir;
  const std::string path = dir.file("labels.gz");
  write_idx_labels(path, {1, 2, 3});
  std::vector<uint8_t> bytes = read_bytes(path);
  const std::size_t end = bytes.size();
  bytes.insert(bytes.end(), {'j', 'u', 'n', 'k'});
  write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); },
                                {path, "trailing garbage", "compressed byte offset " + std::to_string(end),
                                 "4 bytes"}));
}

TEST(Idx, ConcatenatedGzipMembersAreOneStream) {
  TempDir dir;
  // `cat a.gz b.gz` is a valid gzip file holding both members' data.
  const std::vector<uint8_t> idx = {0, 0, 8, 1, 0, 0, 0, 3, 5, 6, 7};
  std::vector<uint8_t> bytes = data::gzip({idx.begin(), idx.begin() + 6});
  const std::vector<uint8_t> second = data::gzip({idx.begin() + 6, idx.end()});
  bytes.insert(bytes.end(), second.begin(), second.end());
  write_bytes(dir.file("labels.gz"), bytes);
  EXPECT_EQ(read_idx_labels(dir.file("labels.gz")), (std::vector<uint8_t>{5, 6, 7}));
}

TEST(Idx, WriterRejectsInconsistentImages) {
  TempDir dir;
  IdxImages images = sample_images(2, 3, 3);
  images.pixels.pop_back();
  EXPECT_TRUE(throws_error_with([&] { write_idx_images(dir.file("x"), images); },
                                {dir.file("x"), "2 images of 3x3", "17 pixels"}));
  EXPECT_FALSE(std::filesystem::exists(dir.file("x")));
}

// 1 GB of zeros in ~1 MB of concatenated gzip members behind a header that
// announces 10 labels: inflation stops a few KB past the announced size.
TEST(Idx, GzipBombStopsAtTheSizeTheHeaderAnnounces) {
  TempDir dir;
  const std::string path = dir.file("labels.gz");
  std::vector<uint8_t> bytes = data::gzip({0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0});
  const std::vector<uint8_t> zeros = data::gzip(std::vector<uint8_t>(1 << 20, 0));
  for (int i = 0; i < 1024; ++i) bytes.insert(bytes.end(), zeros.begin(), zeros.end());
  write_bytes(path, bytes);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(path); },
                                {path, "past byte offset 4114", "announce (18 bytes)", "gzip bomb"}));
  // Inflating the whole gigabyte takes seconds; stopping early, milliseconds.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

TEST(Idx, DirectoriesAndFifosAreNotFiles) {
  TempDir dir;
  EXPECT_TRUE(throws_error_with([&] { read_idx_images(dir.path()); },
                                {dir.path(), "is a directory", "not a regular file"}));
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Without O_NONBLOCK this would wait forever for a writer.
  EXPECT_TRUE(throws_error_with([&] { read_idx_labels(fifo); }, {fifo, "is a FIFO"}));
}

}  // namespace
}  // namespace kiln
