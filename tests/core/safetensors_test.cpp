// safetensors: round trips on every device, the file layout parsed by hand, the
// atomic write, and malformed files.
#include "kiln/data/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/temp_dir.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using nlohmann::json;
using test::read_bytes;
using test::TempDir;
using test::throws_error_with;
using test::write_bytes;

class SafetensorsTest : public testing::TestWithParam<Device> {};

TEST_P(SafetensorsTest, RoundTrip) {
  const Device device = GetParam();
  TempDir dir;
  const Tensor weight = test::random_tensor({3, 5}, device, 1);
  const Tensor bias = test::random_tensor({7}, device, 2);
  const Tensor scalar = Tensor::from_vector({-0.0f}, {}, device);
  const Tensor empty({2, 0, 3}, device);
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, {{"conv1.weight", &weight}, {"conv1.bias", &bias}, {"step", &scalar},
                          {"nothing", &empty}},
                   {{"format", "pt"}, {"epoch", "3"}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  for (const Device& target : {device, Device::cpu()}) {
    const SafetensorsFile file = load_safetensors(path, target);
    ASSERT_EQ(file.tensors.size(), 4u);
    EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"epoch", "3"}}));
    const Tensor& w = file.tensors.at("conv1.weight");
    EXPECT_EQ(w.device(), target);
    EXPECT_EQ(w.shape(), (Shape{3, 5}));
    EXPECT_EQ(w.to_vector(), weight.to_vector());
    EXPECT_EQ(file.tensors.at("conv1.bias").to_vector(), bias.to_vector());
    EXPECT_EQ(file.tensors.at("step").shape(), Shape{});
    EXPECT_TRUE(std::signbit(file.tensors.at("step").to_vector().at(0)));
    EXPECT_EQ(file.tensors.at("nothing").shape(), (Shape{2, 0, 3}));
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, SafetensorsTest, testing::ValuesIn(test::test_devices()),
                         [](const testing::TestParamInfo<Device>& info) {
                           return test::device_name(info.param);
                         });

// Parses the file as the format describes it, without kiln's reader.
TEST(Safetensors, FileFollowsTheFormat) {
  TempDir dir;
  const Tensor a = Tensor::from_vector({1.5f, -2.0f, 3.25f}, {3}, Device::cpu());
  const Tensor b = Tensor::from_vector({4.0f, 5.0f, 6.0f, 7.0f}, {2, 2}, Device::cpu());
  const std::string path = dir.file("x.safetensors");
  save_safetensors(path, {{"a", &a}, {"b", &b}}, {{"k", "v"}});
  const std::vector<uint8_t> bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];  // little-endian
  EXPECT_EQ(n % 8, 0u);
  ASSERT_LE(8 + n, bytes.size());
  const std::string text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  EXPECT_EQ(text.front(), '{');
  const json header = json::parse(text);
  EXPECT_EQ(header["__metadata__"], json({{"k", "v"}}));
  EXPECT_EQ(header["a"]["dtype"], "F32");
  EXPECT_EQ(header["a"]["shape"], json({3}));
  EXPECT_EQ(header["b"]["shape"], json({2, 2}));
  const uint64_t data_start = 8 + n;
  EXPECT_EQ(bytes.size() - data_start, 7 * sizeof(float));
  for (const auto& [name, expected] :
       {std::pair<std::string, std::vector<float>>{"a", {1.5f, -2.0f, 3.25f}}, {"b", {4, 5, 6, 7}}}) {
    const uint64_t begin = header[name]["data_offsets"][0], end = header[name]["data_offsets"][1];
    ASSERT_EQ(end - begin, expected.size() * sizeof(float)) << name;
    std::vector<float> values(expected.size());
    std::memcpy(values.data(), bytes.data() + data_start + begin, end - begin);
    EXPECT_EQ(values, expected) << name;
  }
}

TEST(Safetensors, FailedWriteLeavesTheOldFileIntact) {
  TempDir dir;
  const Tensor a = Tensor::from_vector({1, 2, 3}, {3}, Device::cpu());
  const Tensor empty;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"a", &a}});
  const std::vector<uint8_t> before = read_bytes(path);

  // Rejected before anything is written.
  EXPECT_TRUE(throws_error_with([&] { save_safetensors(path, {{"a", &a}, {"a", &a}}); },
                                {path, "two tensors named 'a'"}));
  EXPECT_TRUE(throws_error_with([&] { save_safetensors(path, {{"e", &empty}}); },
                                {path, "tensor 'e' is empty"}));
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  // The temporary file cannot be created (its name is taken by a directory).
  std::filesystem::create_directory(path + ".tmp");
  EXPECT_TRUE(throws_error_with([&] { save_safetensors(path, {{"b", &a}}); },
                                {path + ".tmp", "creating the temporary file"}));
  EXPECT_EQ(read_bytes(path), before);
  std::filesystem::remove(path + ".tmp");

  // The rename fails after the data was written (the target is a non-empty
  // directory): the temporary file is removed and the directory untouched.
  const std::string dir_target = dir.file("occupied");
  std::filesystem::create_directory(dir_target);
  write_bytes(dir_target + "/keep", {1});
  EXPECT_TRUE(throws_error_with([&] { save_safetensors(dir_target, {{"a", &a}}); },
                                {dir_target, "renaming the temporary file"}));
  EXPECT_FALSE(std::filesystem::exists(dir_target + ".tmp"));
  EXPECT_TRUE(std::filesystem::exists(dir_target + "/keep"));

  // A successful save replaces the file whole.
  const Tensor b = Tensor::from_vector({9}, {1}, Device::cpu());
  save_safetensors(path, {{"b", &b}});
  const SafetensorsFile file = load_safetensors(path, Device::cpu());
  ASSERT_EQ(file.tensors.size(), 1u);
  EXPECT_EQ(file.tensors.at("b").to_vector(), std::vector<float>{9});
}

// A file with header `text` (padded to 8) and `data_bytes` zero bytes of data.
std::vector<uint8_t> raw_file(std::string text, std::size_t data_bytes) {
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<uint8_t> bytes(8);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  bytes.insert(bytes.end(), text.begin(), text.end());
  bytes.resize(bytes.size() + data_bytes);
  return bytes;
}

struct MalformedCase {
  const char* name;
  std::vector<uint8_t> bytes;
  std::vector<std::string> message_parts;
};

TEST(Safetensors, RejectsMalformedFiles) {
  const auto tensor = [](const std::string& dtype, const std::string& shape, int begin, int end) {
    return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  std::vector<uint8_t> huge_header = raw_file("{}", 0);
  huge_header[5] = 0x7f;
  const std::vector<MalformedCase> cases = {
      {"short", {1, 2, 3}, {"3 bytes", "shorter than the 8-byte header length"}},
      {"huge_header", huge_header, {"exceeds"}},
      {"header_past_end", {64, 0, 0, 0, 0, 0, 0, 0, '{', '}'}, {"header length 64", "runs past the end"}},
      {"not_object", raw_file("[1, 2]", 0), {"does not start with '{'"}},
      {"bad_json", raw_file("{\"a\": {\"dtype\": ", 0), {"not valid JSON"}},
      {"number_beyond_double", raw_file("{\"a\": 1e999}", 0), {"not valid JSON", "number overflow"}},
      {"duplicate", raw_file("{\"a\":" + tensor("F32", "[1]", 0, 4) + ",\"a\":" + tensor("F32", "[1]", 4, 8) + "}", 8),
       {"names 'a' twice"}},
      {"unknown_dtype", raw_file("{\"a\":" + tensor("Q7", "[1]", 0, 4) + "}", 4), {"tensor 'a'", "unknown dtype 'Q7'"}},
      {"unsupported_dtype", raw_file("{\"a\":" + tensor("F16", "[2]", 0, 4) + "}", 4), {"F16 is not supported"}},
      {"shape_mismatch", raw_file("{\"a\":" + tensor("F32", "[2,3]", 0, 20) + "}", 20),
       {"span 20 bytes", "needs 24"}},
      {"negative_dim", raw_file("{\"a\":" + tensor("F32", "[-1]", 0, 4) + "}", 4), {"not a size"}},
      {"out_of_range", raw_file("{\"a\":" + tensor("F32", "[4]", 0, 16) + "}", 8),
       {"run past the end of the 8-byte data section"}},
      {"overlap", raw_file("{\"a\":" + tensor("F32", "[2]", 0, 8) + ",\"b\":" + tensor("F32", "[2]", 4, 12) + "}", 12),
       {"tensor 'b'", "overlap"}},
      {"hole", raw_file("{\"a\":" + tensor("F32", "[1]", 0, 4) + ",\"b\":" + tensor("F32", "[1]", 8, 12) + "}", 12),
       {"hole", "[4, 8)"}},
      {"trailing", raw_file("{\"a\":" + tensor("F32", "[1]", 0, 4) + "}", 12), {"8 bytes after the last tensor"}},
      {"missing_fields", raw_file("{\"a\":{\"dtype\":\"F32\"}}", 0), {"needs dtype, shape and data_offsets"}},
      {"bad_metadata", raw_file("{\"__metadata__\":{\"k\":1}}", 0), {"__metadata__ value of 'k'"}},
  };
  TempDir dir;
  for (const MalformedCase& c : cases) {
    const std::string path = dir.file(std::string(c.name) + ".safetensors");
    write_bytes(path, c.bytes);
    std::vector<std::string> parts = c.message_parts;
    parts.push_back(path);
    EXPECT_TRUE(throws_error_with([&] { load_safetensors(path, Device::cpu()); }, parts)) << c.name;
  }
  EXPECT_TRUE(throws_error_with([&] { load_safetensors(dir.file("absent"), Device::cpu()); },
                                {dir.file("absent"), "cannot open"}));
}

TEST(Safetensors, AcceptsAnEmptyFileOfTensors) {
  TempDir dir;
  save_safetensors(dir.file("none"), {});
  const SafetensorsFile file = load_safetensors(dir.file("none"), Device::cpu());
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
}

}  // namespace
}  // namespace kiln
