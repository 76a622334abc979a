#include "kiln/tensor.h"

#include <sstream>

#include "kiln/error.h"

namespace kiln {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    KILN_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

Tensor::Tensor(Shape shape, Device device)
    : shape_(std::move(shape)),
      device_(device),
      storage_(std::make_shared<rt::Buffer>(device, numel_of(shape_) * sizeof(float))) {}

Tensor Tensor::zeros(Shape shape, Device device) {
  Tensor t(std::move(shape), device);
  rt::runtime(device).memset(t.data(), 0, t.numel() * sizeof(float));
  return t;
}

Tensor Tensor::full(Shape shape, float value, Device device) {
  const int64_t n = numel_of(shape);
  return from_vector(std::vector<float>(n, value), std::move(shape), device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape, Device device) {
  KILN_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "from_vector: ",
             values.size(), " values for shape ", shape_str(shape));
  Tensor t(std::move(shape), device);
  rt::copy(t.data(), device, values.data(), Device::cpu(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::to(const Device& device) const {
  Tensor t(shape_, device);
  t.copy_from(*this);
  return t;
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> values(numel());
  rt::copy(values.data(), Device::cpu(), data(), device_, values.size() * sizeof(float));
  return values;
}

void Tensor::copy_from(const Tensor& src) {
  KILN_CHECK(src.numel() == numel(), "copy_from: ", shape_str(src.shape()), " into ",
             shape_str(shape_));
  rt::copy(data(), device_, src.data(), src.device(), numel() * sizeof(float));
}

Tensor Tensor::view(Shape shape) const {
  KILN_CHECK(numel_of(shape) == numel(), "view: cannot view ", shape_str(shape_), " as ",
             shape_str(shape));
  Tensor t;
  t.shape_ = std::move(shape);
  t.device_ = device_;
  t.storage_ = storage_;
  return t;
}

}  // namespace kiln
