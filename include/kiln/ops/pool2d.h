// 2-D max and average pooling, NCHW, with padding and overlapping windows.
// Max: padded positions never win; ties go to the first element in row-major
// window order on every backend; backward is deterministic (no atomics).
// Average: divides by the number of in-bounds elements of the window (padding is
// excluded), as cuDNN's CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING. Output size:
// floor((H + 2 pad - kernel) / stride) + 1, as cuDNN; pad < kernel. See docs/OPS.md.
#pragma once

#include "kiln/ops/engine.h"
#include "kiln/tensor.h"

namespace kiln {

enum class PoolMode { max, avg };

struct Pool2dParams {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;  // on each side
};

Shape pool2d_output_shape(const Shape& x, const Pool2dParams& p);

namespace ops {
void pool2d_forward(PoolMode mode, const Tensor& x, Tensor& y, const Pool2dParams& p,
                    Engine engine = Engine::native);
// x and y are the forward's input and output (max needs them to find the winners).
void pool2d_backward(PoolMode mode, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor& dx, const Pool2dParams& p, Engine engine = Engine::native);
}  // namespace ops

}  // namespace kiln
