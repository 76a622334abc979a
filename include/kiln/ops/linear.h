// Fully connected layer through the GEMM wrapper: y[N, out] = x[N, in] w[out, in]^T + b.
#pragma once

#include "kiln/tensor.h"

namespace kiln::ops {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);
// dx may be null (first layer); db may be null (no bias). Gradients overwrite.
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db);

}  // namespace kiln::ops
