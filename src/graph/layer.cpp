#include "kiln/graph/layer.h"

namespace kiln::graph {

void Layer::create_params(const std::vector<Shape>&, Device, uint64_t) {}

Param& Layer::add_param(const std::string& suffix, Shape shape, Device device) {
  Param p;
  p.name = name_ + "." + suffix;
  p.grad = Tensor::zeros(shape, device);
  p.value = Tensor(std::move(shape), device);
  params_.push_back(std::move(p));
  return params_.back();
}

}  // namespace kiln::graph
