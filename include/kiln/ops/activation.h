// Point-wise activations. The backward takes the forward *output* y (relu'(x) is
// y > 0, tanh' = 1 - y^2, sigmoid' = y (1 - y)), so layers keep only y.
#pragma once

#include <string>

#include "kiln/tensor.h"

namespace kiln {

enum class Activation { relu, tanh, sigmoid };
Activation parse_activation(const std::string& name);  // "relu", "tanh", "sigmoid"
const char* activation_name(Activation a);

namespace ops {
void activation_forward(Activation kind, const Tensor& x, Tensor& y);
void activation_backward(Activation kind, const Tensor& y, const Tensor& dy, Tensor& dx);
}  // namespace ops

}  // namespace kiln
