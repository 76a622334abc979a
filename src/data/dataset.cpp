#include "kiln/data/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "cpu/gather_images.h"
#include "kiln/error.h"
#include "ops/kernels.h"

namespace kiln {

namespace {

bool file_exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

// DIR/NAME.gz if present, else DIR/NAME.
std::string find_idx_file(const std::string& dir, const std::string& name) {
  const std::string base = dir + "/" + name;
  if (file_exists(base + ".gz")) return base + ".gz";
  KILN_CHECK(file_exists(base), "data set file missing: neither ", base, ".gz nor ", base,
             " exists; run scripts/fetch_data.sh (or pass the right data directory)");
  return base;
}

// A uniform draw from [0, bound] by rejection (no modulo bias, no dependence on the
// standard library's distribution algorithms).
uint64_t draw_at_most(std::mt19937_64& rng, uint64_t bound) {
  if (bound == std::numeric_limits<uint64_t>::max()) return rng();
  const uint64_t range = bound + 1;
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % range;
}

rt::Buffer upload(const void* host, std::size_t bytes, const Device& device) {
  rt::Buffer buffer(device, bytes);
  rt::copy(buffer.data(), device, host, Device::cpu(), bytes);
  return buffer;
}

}  // namespace

ImageDataset load_image_split(const std::string& dir, const std::string& split) {
  KILN_CHECK(split == "train" || split == "test", "load_image_split: unknown split '", split,
             "' (expected train or test)");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  ImageDataset data;
  data.images = read_idx_images(images_path);
  data.labels = read_idx_labels(labels_path);
  KILN_CHECK(static_cast<int64_t>(data.labels.size()) == data.images.count, images_path,
             " holds ", data.images.count, " images but ", labels_path, " holds ",
             data.labels.size(), " labels; the files do not belong together: re-run "
             "scripts/fetch_data.sh");
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    KILN_CHECK(data.labels[i] < data.classes, labels_path, ": label ", int{data.labels[i]},
               " at byte offset ", 8 + i, " of the data (item ", i, ") is not below the ",
               data.classes, " classes");
  }
  return data;
}

ImageDataset take(const ImageDataset& data, int64_t first, int64_t count) {
  KILN_CHECK(first >= 0 && count >= 0 && first + count <= data.images.count,
             "take: items [", first, ", ", first + count, ") of a data set of ",
             data.images.count);
  const int64_t image_size = int64_t{data.images.rows} * data.images.cols;
  ImageDataset part;
  part.classes = data.classes;
  part.images.count = count;
  part.images.rows = data.images.rows;
  part.images.cols = data.images.cols;
  part.images.pixels.assign(data.images.pixels.begin() + first * image_size,
                            data.images.pixels.begin() + (first + count) * image_size);
  part.labels.assign(data.labels.begin() + first, data.labels.begin() + first + count);
  return part;
}

std::vector<int32_t> shuffled_order(int64_t size, uint64_t seed, int epoch) {
  KILN_CHECK(size >= 0 && size <= std::numeric_limits<int32_t>::max(), "shuffled_order: size ",
             size, " out of range");
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  std::vector<int32_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = size - 1; i > 0; --i) {
    std::swap(order[i], order[draw_at_most(rng, static_cast<uint64_t>(i))]);
  }
  return order;
}

DeviceDataset::DeviceDataset(const ImageDataset& data, Device device, float mean, float stddev)
    : device_(device),
      size_(data.images.count),
      rows_(data.images.rows),
      cols_(data.images.cols),
      classes_(data.classes) {
  KILN_CHECK(size_ > 0 && size_ <= std::numeric_limits<int32_t>::max(),
             "DeviceDataset: data set size ", size_, " out of range (1 .. 2^31-1)");
  KILN_CHECK(static_cast<int64_t>(data.labels.size()) == size_, "DeviceDataset: ", size_,
             " images but ", data.labels.size(), " labels");
  KILN_CHECK(static_cast<int64_t>(data.images.pixels.size()) == size_ * rows_ * cols_,
             "DeviceDataset: ", data.images.pixels.size(), " pixels for ", size_, " images of ",
             rows_, "x", cols_);
  KILN_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev > 0,
             "DeviceDataset: normalisation needs a finite mean and a positive stddev (got mean ",
             mean, ", stddev ", stddev, ")");
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    KILN_CHECK(data.labels[i] < classes_, "DeviceDataset: label ", int{data.labels[i]},
               " of item ", i, " is not below the ", classes_, " classes");
  }
  require_available(device_);
  std::vector<float> normalise(256);
  for (int p = 0; p < 256; ++p) {
    normalise[p] = (static_cast<float>(p) / 255.0f - mean) / stddev;
    KILN_CHECK(std::isfinite(normalise[p]), "the input normalisation (mean ", mean, ", stddev ",
               stddev, ") maps pixel value ", p, " to ", normalise[p],
               "; the stddev is too small (pixels are scaled to [0, 1]: a stddev near 0.3 is usual)");
  }
  pixels_ = upload(data.images.pixels.data(), data.images.pixels.size(), device_);
  labels_ = upload(data.labels.data(), data.labels.size(), device_);
  normalise_ = upload(normalise.data(), normalise.size() * sizeof(float), device_);
  order_ = rt::Buffer(device_, static_cast<std::size_t>(size_) * sizeof(int32_t));
  // The uploads above read temporaries and data the caller may free.
  rt::synchronize(device_);
  unshuffle();
}

void DeviceDataset::set_augmentation(const Augmentation& augment) {
  KILN_CHECK(augment.max_shift >= 0 && augment.max_shift < std::min(rows_, cols_),
             "the augmentation shift must be in [0, ", std::min(rows_, cols_) - 1,
             "] for ", rows_, "x", cols_, " images, got ", augment.max_shift);
  augment_ = augment;
}

void DeviceDataset::shuffle(uint64_t seed, int epoch) {
  KILN_CHECK(epoch >= 0, "DeviceDataset::shuffle: epoch ", epoch, " is negative");
  host_order_ = shuffled_order(size_, seed, epoch);
  epoch_ = epoch;
  upload_order();
}

void DeviceDataset::unshuffle() {
  epoch_ = -1;
  host_order_.resize(static_cast<std::size_t>(size_));
  std::iota(host_order_.begin(), host_order_.end(), 0);
  upload_order();
}

void DeviceDataset::upload_order() {
  // The previous epoch's gathers may still be queued: the upload goes on the same
  // stream, so it runs after them.
  rt::copy(order_.data(), device_, host_order_.data(), Device::cpu(),
           host_order_.size() * sizeof(int32_t));
}

void DeviceDataset::gather(int64_t first, Tensor& images, Tensor& labels) const {
  KILN_CHECK(images.defined() && images.rank() == 4, "DeviceDataset::gather: images must be ",
             "[B,1,", rows_, ",", cols_, "], got ", shape_str(images.shape()));
  const int64_t batch = images.dim(0);
  KILN_CHECK(images.shape() == Shape({batch, 1, rows_, cols_}),
             "DeviceDataset::gather: images must be [B,1,", rows_, ",", cols_, "], got ",
             shape_str(images.shape()));
  KILN_CHECK(labels.defined() && labels.shape() == Shape({batch}),
             "DeviceDataset::gather: labels must be [", batch, "], got ",
             shape_str(labels.shape()));
  KILN_CHECK(images.device() == device_ && labels.device() == device_,
             "DeviceDataset::gather: the data set is on ", device_.str(), " but images are on ",
             images.device().str(), " and labels on ", labels.device().str());
  KILN_CHECK(first >= 0 && batch >= 1 && first + batch <= size_, "DeviceDataset::gather: ",
             "positions [", first, ", ", first + batch, ") outside the data set of ", size_);
  const Augmentation augment = epoch_ >= 0 ? augment_ : Augmentation{};
  const auto epoch = static_cast<uint32_t>(std::max(epoch_, 0));
  const auto* pixels = pixels_.as<uint8_t>();
  const auto* class_ids = labels_.as<uint8_t>();
  const auto* order = order_.as<int32_t>();
  const auto* normalise = normalise_.as<float>();
  if (device_.is_cpu()) {
    return cpu::gather_images(pixels, class_ids, order, normalise, first, batch, rows_, cols_,
                              augment, epoch, images.data(), labels.data());
  }
  KILN_KERNEL(device_, gather_images, pixels, class_ids, order, normalise, first, batch, rows_,
              cols_, augment, epoch, images.data(), labels.data());
}

}  // namespace kiln
