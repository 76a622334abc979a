// CPU backend of the recurrent cells: the element-wise step of kernels/rnn_cell.h as loops
// over the batch with a vectorised loop over hidden units (the GEMMs go through kiln::gemm).
#pragma once

#include <cstdint>

#include "kernels/rnn_cell.h"

namespace kiln::cpu {
void rnn_cell_forward(const RnnForwardStep& step);
void rnn_cell_backward(const RnnBackwardStep& step);
// Same contract as the kernel of the same name (kernels/rnn.h).
void rnn_peephole_grad(const float* d_h, const float* c, int64_t rows, int batch, int hidden,
                       float* dw);
}  // namespace kiln::cpu
