// cuDNN reference path of conv2d (engine cudnn), built only with CUDA. Uses cuDNN's
// legacy convolution API (still shipped in cuDNN 9) with FMA math (no TF32), so its
// results can be compared tightly with kiln's kernels. Symmetric padding only: the
// caller rejects pad_top != pad_bottom or pad_left != pad_right.
#pragma once

#include "kiln/ops/conv2d.h"

namespace kiln::cudnn {
// `deterministic` restricts the algorithm choice to those cuDNN reports as
// deterministic. All pointers are device memory of GPU `device_index`.
void conv2d_forward(int device_index, const Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, bool deterministic);
void conv2d_backward_data(int device_index, const Conv2dGeometry& g, const float* dy,
                          const float* w, float* dx, bool deterministic);
void conv2d_backward_filter(int device_index, const Conv2dGeometry& g, const float* x,
                            const float* dy, float* dw, bool deterministic);
void conv2d_backward_bias(int device_index, const Conv2dGeometry& g, const float* dy,
                          float* db);
}  // namespace kiln::cudnn
