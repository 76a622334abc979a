// Fused recurrent cells (LSTM with optional peepholes, GRU, Elman tanh/relu), forward and
// backward, one launch per time step; the GEMMs around them go through the GEMM wrapper
// (Appleyard et al. 2016: one input-projection GEMM for all steps, one recurrent GEMM per
// step, one fused element-wise cell per step). docs/RECURRENT.md has the equations.
// rnn_cell_forward / rnn_cell_backward: 256-thread blocks, grid-stride over the B*H units; one
//   thread owns unit (b, j) and computes all G gates of it, so a step needs no shared memory
//   and no synchronisation. Consecutive threads take consecutive j: every gate block, state
//   and output row is read and written coalesced. Memory-bound: per unit it reads the G gate
//   pre-activations from both projections and writes the state, the output and (training)
//   what backward needs; the nonlinearities are a few instructions per byte.
// rnn_peephole_grad: one thread per peephole weight (3H of them) sums its column over all
//   T*B rows in a fixed order (deterministic, no atomics); threads of a warp read adjacent
//   columns (coalesced). Memory-bound; runs once per backward.
// Versions: v1 only. The issue's question whether a persistent or recurrent-GEMM-fused
//   kernel pays at B <= 64, H = 256 is open (not measured: no GPU on the development machine).
#include "kernels/common.cuh"
#include "kernels/rnn.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

// Full-precision math: the same functions on the GPU and in the emulator (where the host's
// libm is used), so results agree to a few ulp.
struct DeviceMath {
  __host__ __device__ static float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
  __host__ __device__ static float tanh(float v) { return tanhf(v); }
};

template <RnnMode M, bool Peep>
__global__ void rnn_forward_kernel(RnnForwardStep a) {
  const int64_t units = static_cast<int64_t>(a.shape.batch) * a.shape.hidden;
  KILN_GRID_STRIDE_LOOP(u, units) {
    const int b = static_cast<int>(u / a.shape.hidden), j = static_cast<int>(u % a.shape.hidden);
    const int length = rnn_length(a.shape, b);
    if (a.shape.step < length) {
      rnn_forward_unit<M, Peep, DeviceMath>(a, b, j, rnn_time(a.shape, length));
    } else {
      rnn_forward_idle(a, b, j);
    }
  }
}

template <RnnMode M, bool Peep>
__global__ void rnn_backward_kernel(RnnBackwardStep a) {
  const int64_t units = static_cast<int64_t>(a.shape.batch) * a.shape.hidden;
  KILN_GRID_STRIDE_LOOP(u, units) {
    const int b = static_cast<int>(u / a.shape.hidden), j = static_cast<int>(u % a.shape.hidden);
    const int length = rnn_length(a.shape, b);
    if (a.shape.step < length) {
      rnn_backward_unit<M, Peep, DeviceMath>(a, b, j, rnn_time(a.shape, length));
    } else {
      rnn_backward_idle(a, b, j);
    }
  }
}

__global__ void rnn_peephole_grad_kernel(const float* __restrict__ d_h, const float* __restrict__ c,
                                         int64_t rows, int batch, int hidden,
                                         float* __restrict__ dw) {
  KILN_GRID_STRIDE_LOOP(w, 3 * static_cast<int64_t>(hidden)) {
    const int which = static_cast<int>(w / hidden), j = static_cast<int>(w % hidden);
    // i (block 0) and f (block 1) see c(t-1); o (block 3) sees c(t), one step (batch rows) on.
    const int gate = which == 2 ? 3 : which;
    const int64_t c_shift = which == 2 ? batch : 0;
    float sum = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      sum += d_h[r * 4 * hidden + gate * hidden + j] * c[(r + c_shift) * hidden + j];
    }
    dw[w] = sum;
  }
}

// One step's kernel over the B*H units.
template <class Step>
void launch_step(void (*kernel)(Step), const Step& a, rt::Stream s) {
  const int64_t units = static_cast<int64_t>(a.shape.batch) * a.shape.hidden;
  launch(kernel, grid_stride_grid(units, kThreads), dim3(kThreads), 0, s, a);
}

}  // namespace

void rnn_cell_forward(const RnnForwardStep& a, rt::Stream s) {
  switch (a.shape.mode) {
    case RnnMode::lstm:
      if (a.peep) return launch_step(rnn_forward_kernel<RnnMode::lstm, true>, a, s);
      return launch_step(rnn_forward_kernel<RnnMode::lstm, false>, a, s);
    case RnnMode::gru: return launch_step(rnn_forward_kernel<RnnMode::gru, false>, a, s);
    case RnnMode::rnn_tanh: return launch_step(rnn_forward_kernel<RnnMode::rnn_tanh, false>, a, s);
    case RnnMode::rnn_relu: return launch_step(rnn_forward_kernel<RnnMode::rnn_relu, false>, a, s);
  }
}

void rnn_cell_backward(const RnnBackwardStep& a, rt::Stream s) {
  switch (a.shape.mode) {
    case RnnMode::lstm:
      if (a.peep) return launch_step(rnn_backward_kernel<RnnMode::lstm, true>, a, s);
      return launch_step(rnn_backward_kernel<RnnMode::lstm, false>, a, s);
    case RnnMode::gru: return launch_step(rnn_backward_kernel<RnnMode::gru, false>, a, s);
    case RnnMode::rnn_tanh: return launch_step(rnn_backward_kernel<RnnMode::rnn_tanh, false>, a, s);
    case RnnMode::rnn_relu: return launch_step(rnn_backward_kernel<RnnMode::rnn_relu, false>, a, s);
  }
}

void rnn_peephole_grad(const float* d_h, const float* c, int64_t rows, int batch, int hidden,
                       float* dw, rt::Stream s) {
  launch(rnn_peephole_grad_kernel, grid_stride_grid(3 * static_cast<int64_t>(hidden), kThreads),
         dim3(kThreads), 0, s, d_h, c, rows, batch, hidden, dw);
}

}  // namespace kiln::KILN_BACKEND
