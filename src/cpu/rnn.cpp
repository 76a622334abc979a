// One step is B*H units of a few dozen flops each: too little to split between threads below a
// few thousand units (a parallel region costs microseconds), so small steps stay serial.
#include "cpu/rnn.h"

#include <math.h>

#include "cpu/isa.h"

// glibc ships vector versions of expf and tanhf (libmvec, x86-64 vector function ABI, within
// 4 ulp; libm.so pulls it in as needed). math.h declares them `simd` only under -ffast-math;
// declaring them so here lets GCC call them from the vectorised loops below without relaxing
// any other floating-point rule.
#if defined(__x86_64__) && defined(__GLIBC__)
extern "C" float expf(float) noexcept __attribute__((simd("notinbranch")));
extern "C" float tanhf(float) noexcept __attribute__((simd("notinbranch")));
#endif

namespace kiln::cpu {

namespace {

constexpr int64_t kParallelUnits = 1 << 14;

struct HostMath {
  static float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
  static float tanh(float v) { return tanhf(v); }
};

// The rows are compiled per variant and chosen by active_isa() (KILN_CPU_ISA can force
// one), as the other CPU kernels are; not with target_clones, whose ifunc resolvers run
// before ThreadSanitizer's runtime is up and crash the TSan build at load.
#define KILN_PER_ISA_SOURCE "cpu/rnn_rows.inc"
#include "cpu/per_isa.inc"

template <RnnMode M, bool Peep>
struct Rows {
  void (*forward)(const RnnForwardStep&, int, int);
  void (*backward)(const RnnBackwardStep&, int, int);
};

template <RnnMode M, bool Peep>
Rows<M, Peep> rows_for(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::avx512) return {avx512::forward_row<M, Peep>, avx512::backward_row<M, Peep>};
  if (isa == Isa::avx2) return {avx2::forward_row<M, Peep>, avx2::backward_row<M, Peep>};
#endif
  (void)isa;
  return {baseline::forward_row<M, Peep>, baseline::backward_row<M, Peep>};
}

template <RnnMode M, bool Peep = false>
void forward_steps(const RnnForwardStep& a) {
  const RnnStepShape& s = a.shape;
  const auto forward_row = rows_for<M, Peep>(active_isa()).forward;
#pragma omp parallel for if (static_cast<int64_t>(s.batch) * s.hidden >= kParallelUnits)
  for (int b = 0; b < s.batch; ++b) {
    const int length = rnn_length(s, b);
    if (s.step >= length) {
      for (int j = 0; j < s.hidden; ++j) rnn_forward_idle(a, b, j);
      continue;
    }
    forward_row(a, b, rnn_time(s, length));
  }
}

template <RnnMode M, bool Peep = false>
void backward_steps(const RnnBackwardStep& a) {
  const RnnStepShape& s = a.shape;
  const auto backward_row = rows_for<M, Peep>(active_isa()).backward;
#pragma omp parallel for if (static_cast<int64_t>(s.batch) * s.hidden >= kParallelUnits)
  for (int b = 0; b < s.batch; ++b) {
    const int length = rnn_length(s, b);
    if (s.step >= length) {
      for (int j = 0; j < s.hidden; ++j) rnn_backward_idle(a, b, j);
      continue;
    }
    backward_row(a, b, rnn_time(s, length));
  }
}

}  // namespace

void rnn_cell_forward(const RnnForwardStep& a) {
  switch (a.shape.mode) {
    case RnnMode::lstm:
      if (a.peep) return forward_steps<RnnMode::lstm, true>(a);
      return forward_steps<RnnMode::lstm>(a);
    case RnnMode::gru: return forward_steps<RnnMode::gru>(a);
    case RnnMode::rnn_tanh: return forward_steps<RnnMode::rnn_tanh>(a);
    case RnnMode::rnn_relu: return forward_steps<RnnMode::rnn_relu>(a);
  }
}

void rnn_cell_backward(const RnnBackwardStep& a) {
  switch (a.shape.mode) {
    case RnnMode::lstm:
      if (a.peep) return backward_steps<RnnMode::lstm, true>(a);
      return backward_steps<RnnMode::lstm>(a);
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
