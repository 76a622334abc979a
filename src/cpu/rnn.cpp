// One step is B*H units of a few dozen flops each: too little to split between threads below a
// few thousand units (a parallel region costs microseconds), so small steps stay serial.
#include "cpu/rnn.h"

#include <cmath>

namespace kiln::cpu {

namespace {

constexpr int64_t kParallelUnits = 1 << 14;

struct HostMath {
  static float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }
  static float tanh(float v) { return std::tanh(v); }
};

template <RnnMode M>
void forward_steps(const RnnForwardStep& a) {
  const RnnStepShape& s = a.shape;
#pragma omp parallel for if (static_cast<int64_t>(s.batch) * s.hidden >= kParallelUnits)
  for (int b = 0; b < s.batch; ++b) {
    const int length = rnn_length(s, b);
    if (s.step >= length) {
      for (int j = 0; j < s.hidden; ++j) rnn_forward_idle(a, b, j);
      continue;
    }
    const int t = rnn_time(s, length);
#pragma omp simd
    for (int j = 0; j < s.hidden; ++j) rnn_forward_unit<M, HostMath>(a, b, j, t);
  }
}

template <RnnMode M>
void backward_steps(const RnnBackwardStep& a) {
  const RnnStepShape& s = a.shape;
#pragma omp parallel for if (static_cast<int64_t>(s.batch) * s.hidden >= kParallelUnits)
  for (int b = 0; b < s.batch; ++b) {
    const int length = rnn_length(s, b);
    if (s.step >= length) {
      for (int j = 0; j < s.hidden; ++j) rnn_backward_idle(a, b, j);
      continue;
    }
    const int t = rnn_time(s, length);
#pragma omp simd
    for (int j = 0; j < s.hidden; ++j) rnn_backward_unit<M, HostMath>(a, b, j, t);
  }
}

}  // namespace

void rnn_cell_forward(const RnnForwardStep& a) {
  switch (a.shape.mode) {
    case RnnMode::lstm: return forward_steps<RnnMode::lstm>(a);
    case RnnMode::gru: return forward_steps<RnnMode::gru>(a);
    case RnnMode::rnn_tanh: return forward_steps<RnnMode::rnn_tanh>(a);
    case RnnMode::rnn_relu: return forward_steps<RnnMode::rnn_relu>(a);
  }
}

void rnn_cell_backward(const RnnBackwardStep& a) {
  switch (a.shape.mode) {
    case RnnMode::lstm: return backward_steps<RnnMode::lstm>(a);
    case RnnMode::gru: return backward_steps<RnnMode::gru>(a);
    case RnnMode::rnn_tanh: return backward_steps<RnnMode::rnn_tanh>(a);
    case RnnMode::rnn_relu: return backward_steps<RnnMode::rnn_relu>(a);
  }
}

void rnn_peephole_grad(const float* d_h, const float* c, int64_t rows, int batch, int hidden,
                       float* dw) {
  for (int w = 0; w < 3 * hidden; ++w) dw[w] = 0.0f;
  // Row by row so the inner loops stream contiguous memory; each weight's sum still runs over
  // the rows in order (deterministic, and the same order as the kernel).
  for (int64_t r = 0; r < rows; ++r) {
    const float* d = d_h + r * 4 * hidden;
    const float* c_prev = c + r * hidden;
    const float* c_next = c + (r + batch) * hidden;
#pragma omp simd
    for (int j = 0; j < hidden; ++j) {
      dw[j] += d[j] * c_prev[j];
      dw[hidden + j] += d[hidden + j] * c_prev[j];
      dw[2 * hidden + j] += d[3 * hidden + j] * c_next[j];
    }
  }
}

}  // namespace kiln::cpu
