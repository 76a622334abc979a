// A small classification data set that lives on a device, for trainer tests: each
// class has a fixed random centre and samples are centre + noise, so a small model
// learns it in a few epochs. Gathering copies rows on the device in the order of
// the epoch (a host-side Philox permutation of (seed, epoch)).
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "kiln/philox.h"
#include "kiln/train/trainer.h"

namespace kiln::test {

class SyntheticExamples {
 public:
  SyntheticExamples(int64_t count, Shape sample, int classes, Device device, uint64_t seed)
      : sample_(std::move(sample)), features_(numel_of(sample_)), order_(count) {
    std::vector<float> images(count * features_), labels(count);
    for (int64_t i = 0; i < count; ++i) {
      const int label = static_cast<int>(i % classes);
      labels[i] = static_cast<float>(label);
      for (int64_t f = 0; f < features_; ++f) {
        const float centre = 2.0f * philox::uniform(seed, 0, label * features_ + f) - 1.0f;
        const float noise = philox::uniform(seed + 1, 0, i * features_ + f) - 0.5f;
        images[i * features_ + f] = centre + 0.5f * noise;
      }
    }
    Shape shape{count};
    shape.insert(shape.end(), sample_.begin(), sample_.end());
    images_ = Tensor::from_vector(images, shape, device);
    labels_ = Tensor::from_vector(labels, {count}, device);
    unshuffle();
  }

  int64_t size() const { return static_cast<int64_t>(order_.size()); }
  void unshuffle() { std::iota(order_.begin(), order_.end(), 0); }
  void shuffle(uint64_t seed, int epoch) {
    unshuffle();
    for (size_t i = order_.size(); i > 1; --i) {
      const size_t j = philox::bits(seed, static_cast<uint64_t>(epoch) << 32, i) % i;
      std::swap(order_[i - 1], order_[j]);
    }
  }
  void gather(int64_t first, Tensor& images, Tensor& labels) const {
    const Device d = images_.device();
    for (int64_t b = 0; b < images.dim(0); ++b) {
      const int64_t item = order_[first + b];
      rt::copy(images.data() + b * features_, d, images_.data() + item * features_, d,
               features_ * sizeof(float));
      rt::copy(labels.data() + b, d, labels_.data() + item, d, sizeof(float));
    }
  }

 private:
  Shape sample_;
  int64_t features_;
  std::vector<int64_t> order_;
  Tensor images_, labels_;
};

// The examples as the trainer's batch source.
class SyntheticData final : public SyntheticExamples, public train::DatasetSource<SyntheticExamples> {
 public:
  SyntheticData(int64_t count, Shape sample, int classes, Device device, uint64_t seed)
      : SyntheticExamples(count, std::move(sample), classes, device, seed),
        DatasetSource(static_cast<SyntheticExamples&>(*this)) {}
};

}  // namespace kiln::test
