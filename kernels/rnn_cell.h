// The element-wise work of one recurrent step for one (sequence b, hidden unit j): gate
// nonlinearities, the state update, b_hh, peepholes, length masking, the output write and what
// backward keeps. Shared by the CUDA/emulator kernels (kernels/rnn.cu: one thread per (b, j))
// and the CPU backend (src/cpu/rnn.cpp: a vectorised loop over j), so the equations exist once.
// The equations and layouts are in docs/RECURRENT.md.
//
// Layouts (row-major): x_proj and d_x [T, B, G*H] in time order; h_proj, d_h, saved [B, *] for
// the current step; states [B, H]; y and dy [T, B, out_stride] with this direction's units at
// columns out_offset .. out_offset + H - 1. Gate blocks: lstm (i, f, g, o); gru (r, z, n); rnn
// one block. Saved per unit: lstm i f g o; gru r z n (W_hn h + b_hn); rnn h.
#pragma once

#include <cstdint>

#include "kiln/ops/rnn.h"

// Inlined everywhere: the CPU loops vectorise only when the unit's body is inlined into them.
#if defined(__CUDACC__)
#define KILN_RNN_INLINE __host__ __device__ __forceinline__
#else
#define KILN_RNN_INLINE inline __attribute__((always_inline))
#endif

namespace kiln {

// Floats saved per hidden unit per step for backward.
KILN_RNN_INLINE int rnn_saved_per_unit(RnnMode mode) {
  return mode == RnnMode::lstm || mode == RnnMode::gru ? 4 : 1;
}
KILN_RNN_INLINE int rnn_gates(RnnMode mode) {
  return mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1;
}

// Where one step of one direction of one layer reads and writes.
struct RnnStepShape {
  RnnMode mode;
  int batch, hidden, steps;
  int step;                     // 0 .. steps-1 in processing order
  int reverse;                  // 1: sequence b's step s is time lengths[b] - 1 - s
  int out_stride, out_offset;   // y / dy columns of this direction
  const float* lengths;         // [B] float lengths, or null (all `steps`)
};

struct RnnForwardStep {
  RnnStepShape shape;
  const float* x_proj;  // [T, B, G*H] x W_ih^T + b_ih, time order
  const float* h_proj;  // [B, G*H] h_prev W_hh^T (no bias)
  const float* b_hh;    // [G*H]
  const float* peep;    // [3H] w_ci, w_cf, w_co, or null (no peepholes)
  const float* h_prev;  // [B, H]
  const float* c_prev;  // [B, H] lstm only
  float* h_next;        // [B, H]
  float* c_next;        // [B, H] lstm only
  float* y;             // [T, B, out_stride]
  float* saved;         // [B, saved_per_unit * H] (inference: a scratch row reused by every step)
};

struct RnnBackwardStep {
  RnnStepShape shape;
  const float* peep;     // [3H] or null
  const float* saved;    // [B, saved_per_unit * H] of this step
  const float* h_prev;   // [B, H] (gru)
  const float* c_prev;   // [B, H] (lstm)
  const float* c_next;   // [B, H] (lstm)
  const float* dy;       // [T, B, out_stride]
  const float* dh_next;  // [B, H] gradient reaching this step's output state from later steps
  const float* dc_next;  // [B, H] (lstm)
  float* dh_prev;        // [B, H] element-wise part; the driver adds d_h W_hh
  float* dc_prev;        // [B, H] (lstm)
  float* d_x;            // [T, B, G*H] pre-activation gradients, time order (x side)
  float* d_h;            // [B, G*H] this step (h side; differs from d_x only for gru's n)
};

// Sequence b's length, and the time index its step `step` processes (valid when active).
KILN_RNN_INLINE int rnn_length(const RnnStepShape& s, int b) {
  return s.lengths ? static_cast<int>(s.lengths[b]) : s.steps;
}
KILN_RNN_INLINE int rnn_time(const RnnStepShape& s, int length) {
  return s.reverse ? length - 1 - s.step : s.step;
}

// Past its end a sequence keeps its state and writes a zero output at time `step` (that time
// is padding for it in either direction, so every padded output is written exactly once).
KILN_RNN_INLINE void rnn_forward_idle(const RnnForwardStep& a, int b, int j) {
  const RnnStepShape& s = a.shape;
  const int64_t u = static_cast<int64_t>(b) * s.hidden + j;
  a.h_next[u] = a.h_prev[u];
  if (s.mode == RnnMode::lstm) a.c_next[u] = a.c_prev[u];
  a.y[(static_cast<int64_t>(s.step) * s.batch + b) * s.out_stride + s.out_offset + j] = 0.0f;
}

// Peep: a.peep is not null (lstm only); a template flag so that no peephole costs nothing.
template <RnnMode M, bool Peep, class Math>
KILN_RNN_INLINE void rnn_forward_unit(const RnnForwardStep& a, int b, int j, int t) {
  const RnnStepShape& s = a.shape;
  const int H = s.hidden, GH = rnn_gates(M) * H;
  const int64_t u = static_cast<int64_t>(b) * H + j;
  const float* xp = a.x_proj + (static_cast<int64_t>(t) * s.batch + b) * GH + j;
  const float* hp = a.h_proj + static_cast<int64_t>(b) * GH + j;
  const float* bh = a.b_hh + j;
  float* saved = a.saved + static_cast<int64_t>(b) * rnn_saved_per_unit(M) * H + j;
  float h;
  if (M == RnnMode::lstm) {
    const float c_prev = a.c_prev[u];
    float pi = xp[0] + hp[0] + bh[0], pf = xp[H] + hp[H] + bh[H];
    if (Peep) {
      pi += a.peep[j] * c_prev;
      pf += a.peep[H + j] * c_prev;
    }
    const float i = Math::sigmoid(pi), f = Math::sigmoid(pf);
    const float g = Math::tanh(xp[2 * H] + hp[2 * H] + bh[2 * H]);
    const float c = f * c_prev + i * g;
    float po = xp[3 * H] + hp[3 * H] + bh[3 * H];
    if (Peep) po += a.peep[2 * H + j] * c;
    const float o = Math::sigmoid(po);
    h = o * Math::tanh(c);
    a.c_next[u] = c;
    saved[0] = i;
    saved[H] = f;
    saved[2 * H] = g;
    saved[3 * H] = o;
  } else if (M == RnnMode::gru) {
    const float r = Math::sigmoid(xp[0] + hp[0] + bh[0]);
    const float z = Math::sigmoid(xp[H] + hp[H] + bh[H]);
    const float hn = hp[2 * H] + bh[2 * H];
    const float n = Math::tanh(xp[2 * H] + r * hn);
    h = (1.0f - z) * n + z * a.h_prev[u];
    saved[0] = r;
    saved[H] = z;
    saved[2 * H] = n;
    saved[3 * H] = hn;
  } else {
    const float pre = xp[0] + hp[0] + bh[0];
    h = M == RnnMode::rnn_tanh ? Math::tanh(pre) : (pre > 0.0f ? pre : 0.0f);
    saved[0] = h;
  }
  a.h_next[u] = h;
  a.y[(static_cast<int64_t>(t) * s.batch + b) * s.out_stride + s.out_offset + j] = h;
}

// Past its end a sequence passes its state gradients through and gets zero gate gradients.
KILN_RNN_INLINE void rnn_backward_idle(const RnnBackwardStep& a, int b, int j) {
  const RnnStepShape& s = a.shape;
  const int H = s.hidden, G = rnn_gates(s.mode);
  const int64_t u = static_cast<int64_t>(b) * H + j;
  a.dh_prev[u] = a.dh_next[u];
  if (s.mode == RnnMode::lstm) a.dc_prev[u] = a.dc_next[u];
  float* dx = a.d_x + (static_cast<int64_t>(s.step) * s.batch + b) * G * H + j;
  float* dh = a.d_h + static_cast<int64_t>(b) * G * H + j;
  for (int q = 0; q < G; ++q) dx[q * H] = dh[q * H] = 0.0f;
}

template <RnnMode M, bool Peep, class Math>
KILN_RNN_INLINE void rnn_backward_unit(const RnnBackwardStep& a, int b, int j, int t) {
  const RnnStepShape& s = a.shape;
  const int H = s.hidden, GH = rnn_gates(M) * H;
  const int64_t u = static_cast<int64_t>(b) * H + j;
  const float dh = a.dh_next[u] +
                   a.dy[(static_cast<int64_t>(t) * s.batch + b) * s.out_stride + s.out_offset + j];
  const float* sv = a.saved + static_cast<int64_t>(b) * rnn_saved_per_unit(M) * H + j;
  float* dx = a.d_x + (static_cast<int64_t>(t) * s.batch + b) * GH + j;
  float* dr = a.d_h + static_cast<int64_t>(b) * GH + j;
  if (M == RnnMode::lstm) {
    const float i = sv[0], f = sv[H], g = sv[2 * H], o = sv[3 * H];
    const float c_prev = a.c_prev[u], tc = Math::tanh(a.c_next[u]);
    const float d_o = dh * tc * o * (1.0f - o);
    float dc = a.dc_next[u] + dh * o * (1.0f - tc * tc);
    if (Peep) dc += d_o * a.peep[2 * H + j];
    const float d_i = dc * g * i * (1.0f - i), d_f = dc * c_prev * f * (1.0f - f);
    const float d_g = dc * i * (1.0f - g * g);
    float dc_prev = dc * f;
    if (Peep) dc_prev += d_i * a.peep[j] + d_f * a.peep[H + j];
    a.dc_prev[u] = dc_prev;
    a.dh_prev[u] = 0.0f;
    dx[0] = dr[0] = d_i;
    dx[H] = dr[H] = d_f;
    dx[2 * H] = dr[2 * H] = d_g;
    dx[3 * H] = dr[3 * H] = d_o;
  } else if (M == RnnMode::gru) {
    const float r = sv[0], z = sv[H], n = sv[2 * H], hn = sv[3 * H];
    const float d_n = dh * (1.0f - z) * (1.0f - n * n);
    const float d_z = dh * (a.h_prev[u] - n) * z * (1.0f - z);
    const float d_r = d_n * hn * r * (1.0f - r);
    a.dh_prev[u] = dh * z;
    dx[0] = dr[0] = d_r;
    dx[H] = dr[H] = d_z;
    dx[2 * H] = d_n;
    dr[2 * H] = d_n * r;
  } else {
    const float h = sv[0];
    const float deriv = M == RnnMode::rnn_tanh ? 1.0f - h * h : (h > 0.0f ? 1.0f : 0.0f);
    a.dh_prev[u] = 0.0f;
    dx[0] = dr[0] = dh * deriv;
  }
}

}  // namespace kiln
