// Launchers of kernels/rnn.cu (no include guard: see kernels/elementwise.h).
#include <cstdint>

#include "kernels/rnn_cell.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// One recurrent step of one direction: every (b, j) of the batch (kernels/rnn_cell.h).
void rnn_cell_forward(const RnnForwardStep& step, rt::Stream stream);
void rnn_cell_backward(const RnnBackwardStep& step, rt::Stream stream);
// Peephole weight gradients over all rows r = s * batch + b of the step-ordered gate
// gradients d_h [rows, 4H] and cell states c [rows + batch, H] (c of step s is row s*B+b,
// its successor row (s+1)*B+b): dw[j] = sum d_i c_prev, dw[H+j] = sum d_f c_prev,
// dw[2H+j] = sum d_o c_next. Overwrites dw; deterministic (fixed order, no atomics).
void rnn_peephole_grad(const float* d_h, const float* c, int64_t rows, int batch, int hidden,
                       float* dw, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
