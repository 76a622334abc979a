#pragma once

#include "kiln/tensor.h"

namespace kiln::ops {

// c[m,n] = a[m,k] * b[k,n] (row-major). cpu: OpenBLAS; cuda and simt: kiln's tiled
// shared-memory kernel (kernels/matmul.cu). Layers use kiln::gemm for speed; this op
// exists to exercise a shared-memory tiled kernel end to end.
void matmul(const Tensor& a, const Tensor& b, Tensor& c);

}  // namespace kiln::ops
