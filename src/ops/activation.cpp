#include "kiln/ops/activation.h"

#include "cpu/elementwise.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln {

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::relu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  throw Error("unknown activation '" + name + "': expected relu, tanh or sigmoid");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::relu: return "relu";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
  }
  return "?";
}

namespace ops {

void activation_forward(Activation kind, const Tensor& x, Tensor& y) {
  check_same_shape(activation_name(kind), x, y);
  const int k = static_cast<int>(kind);
  if (y.device().is_cpu()) return cpu::activation_forward(k, x.data(), y.data(), y.numel());
  KILN_KERNEL(y.device(), activation_forward, k, x.data(), y.data(), y.numel());
}

void activation_backward(Activation kind, const Tensor& y, const Tensor& dy, Tensor& dx) {
  check_same_shape(activation_name(kind), y, dy);
  check_same_shape(activation_name(kind), y, dx);
  const int k = static_cast<int>(kind);
  if (y.device().is_cpu()) {
    return cpu::activation_backward(k, y.data(), dy.data(), dx.data(), y.numel());
  }
  KILN_KERNEL(y.device(), activation_backward, k, y.data(), dy.data(), dx.data(), y.numel());
}

}  // namespace ops
}  // namespace kiln
