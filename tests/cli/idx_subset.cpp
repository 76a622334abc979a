// idx_subset SRC DST TRAIN TEST: writes the first TRAIN training and TEST test
// images of the IDX data set in SRC to DST (same file names), so the CLI tests can
// run the real commands on real data in seconds.
#include <filesystem>
#include <iostream>
#include <string>

#include "kiln/data/dataset.h"
#include "kiln/data/idx.h"
#include "kiln/error.h"

namespace {

void write_split(const std::string& src, const std::string& dst, const std::string& split,
                 const std::string& prefix, int64_t count) {
  const kiln::ImageDataset part = kiln::take(kiln::load_image_split(src, split), 0, count);
  kiln::write_idx_images(dst + "/" + prefix + "-images-idx3-ubyte.gz", part.images);
  kiln::write_idx_labels(dst + "/" + prefix + "-labels-idx1-ubyte.gz", part.labels);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: idx_subset SRC DST TRAIN TEST\n";
    return 2;
  }
  try {
    std::filesystem::create_directories(argv[2]);
    write_split(argv[1], argv[2], "train", "train", std::stoll(argv[3]));
    write_split(argv[1], argv[2], "test", "t10k", std::stoll(argv[4]));
  } catch (const std::exception& e) {
    std::cerr << "idx_subset: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
