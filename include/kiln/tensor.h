// Tensor: a float32 array with a shape, living on one device. Storage is
// reference-counted only so that views (reshape) can alias it; a Tensor itself is
// move-only, and copies between or within devices are explicit (to(), clone()).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "kiln/device.h"
#include "kiln/runtime.h"

namespace kiln {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
std::string shape_str(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Uninitialised storage (poisoned with NaN on simt, so reads before writes show).
  Tensor(Shape shape, Device device);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  static Tensor zeros(Shape shape, Device device);
  static Tensor full(Shape shape, float value, Device device);
  static Tensor from_vector(const std::vector<float>& values, Shape shape, Device device);

  Tensor to(const Device& device) const;  // deep copy onto `device`
  Tensor clone() const { return to(device_); }
  std::vector<float> to_vector() const;   // deep copy to host memory
  void copy_from(const Tensor& src);       // same numel, any devices
  // A tensor sharing this one's storage with another shape of the same numel.
  Tensor view(Shape shape) const;

  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_of(shape_); }
  const Device& device() const { return device_; }
  bool defined() const { return storage_ != nullptr; }
  float* data() { return storage_ ? storage_->as<float>() : nullptr; }
  const float* data() const { return storage_ ? storage_->as<float>() : nullptr; }

 private:
  Shape shape_;
  Device device_;
  std::shared_ptr<rt::Buffer> storage_;
};

}  // namespace kiln
