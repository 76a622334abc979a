// Image classification data sets: loading IDX splits from disk and keeping a data
// set resident on a device, where each training step gathers and normalises its
// batch from a per-epoch permutation without touching the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/data/augment.h"
#include "kiln/data/idx.h"
#include "kiln/device.h"
#include "kiln/runtime.h"
#include "kiln/tensor.h"

namespace kiln {

struct ImageDataset {
  IdxImages images;
  std::vector<uint8_t> labels;
  int classes = 10;
};

// Reads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (the MNIST and
// Fashion-MNIST names; split "train" or "test"); checks that image and label
// counts match and that every label is < classes. Errors name the file and say to
// run scripts/fetch_data.sh when the files are missing.
ImageDataset load_image_split(const std::string& dir, const std::string& split);

// Images [first, first + count) of `data` and their labels (e.g. a validation split).
ImageDataset take(const ImageDataset& data, int64_t first, int64_t count);

// The order of epoch `epoch` for a data set of `size` items: a Fisher-Yates shuffle
// driven by std::mt19937_64 seeded from (seed, epoch) through std::seed_seq, with
// bounded draws by rejection, so the order is the same with every standard library.
std::vector<int32_t> shuffled_order(int64_t size, uint64_t seed, int epoch);

class DeviceDataset {
 public:
  // Uploads the uint8 pixels and labels once, plus the 256-entry normalisation
  // table (pixel/255 - mean)/stddev. The order starts as the identity.
  DeviceDataset(const ImageDataset& data, Device device, float mean, float stddev);

  int64_t size() const { return size_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int classes() const { return classes_; }
  const Device& device() const { return device_; }

  // Random translation of the images gathered from a shuffled order (training);
  // 0 <= max_shift < min(rows, cols). Off (max_shift 0) by default.
  void set_augmentation(const Augmentation& augment);
  const Augmentation& augmentation() const { return augment_; }

  // Uploads shuffled_order(size(), seed, epoch): once per epoch, never inside a step.
  // Until the next (un)shuffle, gathers draw their shifts for this epoch.
  void shuffle(uint64_t seed, int epoch);
  // The identity order, never augmented (evaluation).
  void unshuffle();
  // The current order, as uploaded.
  const std::vector<int32_t>& order() const { return host_order_; }

  // images [B,1,rows,cols] = (pixel/255 - mean)/stddev and labels [B] (class ids as
  // float) of the items at positions [first, first + B) of the current order,
  // gathered on this device by a kernel (cpu: a host loop). B = images.dim(0); it may
  // be smaller than the training batch at the end of an epoch. No host
  // synchronisation. After shuffle(seed, epoch) with augmentation on, the image at
  // position p is first translated by image_shift(augmentation(), epoch, p)
  // (kiln/data/augment.h), pixels shifted in from outside being 0.
  void gather(int64_t first, Tensor& images, Tensor& labels) const;

 private:
  void upload_order();

  Device device_;
  int64_t size_ = 0;
  int rows_ = 0, cols_ = 0, classes_ = 0;
  rt::Buffer pixels_, labels_, normalise_, order_;
  Augmentation augment_;
  int epoch_ = -1;  // of the current shuffled order; -1: identity order, no augmentation
  // Kept alive while an asynchronous upload may still read it.
  std::vector<int32_t> host_order_;
};

}  // namespace kiln
