// cuDNN reference path of 2-D pooling (compiled only with CUDA). Arguments were
// checked by ops::pool2d_*; tensors are packed NCHW on the same cuda device.
#pragma once

#include "kiln/ops/pool2d.h"

namespace kiln::cudnn {
void pool2d_forward(PoolMode mode, const Tensor& x, Tensor& y, const Pool2dParams& p);
void pool2d_backward(PoolMode mode, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor& dx, const Pool2dParams& p);
}  // namespace kiln::cudnn
