// Naive double-precision recurrent layers (LSTM with optional peepholes, GRU, Elman tanh/relu):
// whole sequences, stacked, bidirectional, per-sequence lengths, dropout between layers, and
// backpropagation through time. Written from the equations in docs/RECURRENT.md, sequence by
// sequence and step by step, sharing nothing with the fast CPU code or the kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/philox.h"

namespace kiln::reference {

enum class RnnRefMode { lstm, gru, rnn_tanh, rnn_relu };

struct RnnRefCase {
  RnnRefMode mode = RnnRefMode::lstm;
  int input = 1, hidden = 1, layers = 1;
  bool bidirectional = false, peepholes = false;
  int steps = 1, batch = 1;
  std::vector<int> lengths;  // empty: every sequence has `steps` steps
  double dropout = 0.0;      // between layers; applied only when > 0
  std::uint64_t seed = 0, offset = 0;

  int dirs() const { return bidirectional ? 2 : 1; }
  int gates() const { return mode == RnnRefMode::lstm ? 4 : mode == RnnRefMode::gru ? 3 : 1; }
  int length(int b) const { return lengths.empty() ? steps : lengths[b]; }
  int layer_input(int k) const { return k == 0 ? input : hidden * dirs(); }
  // Parameters per (layer, direction): w_ih, w_hh, b_ih, b_hh (+ w_ch with peepholes).
  int params_per_cell() const { return peepholes ? 5 : 4; }
  // Philox counters one layer's dropout mask uses: element i takes counter offset + i / 4.
  std::uint64_t dropout_counters() const {
    return (static_cast<std::uint64_t>(steps) * batch * hidden * dirs() + 3) / 4;
  }
};

using Params = std::vector<std::vector<double>>;  // in rnn_param_specs order

struct RnnRefOutput {
  std::vector<double> y, hn, cn;  // [T, B, D*H], [L*D, B, H], [L*D, B, H] (lstm)
};

struct RnnRefGrads {
  std::vector<double> dx, dh0, dc0;
  Params dparams;
};

namespace rnn_detail {

inline double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Everything one cell step computed, kept for its backward.
struct Step {
  std::vector<double> in, h_prev, c_prev;  // the step's inputs
  std::vector<double> a, b, c, d;          // lstm: i f g o; gru: r z n (W_hn h + b_hn); rnn: h
  std::vector<double> h, cell;             // the new state
};

// W [rows, cols] times v.
inline double dot_row(const std::vector<double>& w, int row, int cols, const double* v) {
  double acc = 0.0;
  for (int k = 0; k < cols; ++k) acc += w[static_cast<std::size_t>(row) * cols + k] * v[k];
  return acc;
}

inline Step cell_forward(const RnnRefCase& s, const std::vector<double>* p, int in_size,
                         const std::vector<double>& in, const std::vector<double>& h_prev,
                         const std::vector<double>& c_prev) {
  const int H = s.hidden;
  const auto &w_ih = p[0], &w_hh = p[1], &b_ih = p[2], &b_hh = p[3];
  auto x_part = [&](int row) { return dot_row(w_ih, row, in_size, in.data()) + b_ih[row]; };
  auto h_part = [&](int row) { return dot_row(w_hh, row, H, h_prev.data()) + b_hh[row]; };
  Step st{in, h_prev, c_prev, {}, {}, {}, {}, std::vector<double>(H), std::vector<double>(H)};
  st.a = st.b = st.c = st.d = std::vector<double>(H);
  for (int j = 0; j < H; ++j) {
    if (s.mode == RnnRefMode::lstm) {
      const double ci = s.peepholes ? p[4][j] * c_prev[j] : 0.0;
      const double cf = s.peepholes ? p[4][H + j] * c_prev[j] : 0.0;
      st.a[j] = sigmoid(x_part(j) + h_part(j) + ci);
      st.b[j] = sigmoid(x_part(H + j) + h_part(H + j) + cf);
      st.c[j] = std::tanh(x_part(2 * H + j) + h_part(2 * H + j));
      st.cell[j] = st.b[j] * c_prev[j] + st.a[j] * st.c[j];
      const double co = s.peepholes ? p[4][2 * H + j] * st.cell[j] : 0.0;
      st.d[j] = sigmoid(x_part(3 * H + j) + h_part(3 * H + j) + co);
      st.h[j] = st.d[j] * std::tanh(st.cell[j]);
    } else if (s.mode == RnnRefMode::gru) {
      st.a[j] = sigmoid(x_part(j) + h_part(j));
      st.b[j] = sigmoid(x_part(H + j) + h_part(H + j));
      st.d[j] = h_part(2 * H + j);
      st.c[j] = std::tanh(x_part(2 * H + j) + st.a[j] * st.d[j]);
      st.h[j] = (1.0 - st.b[j]) * st.c[j] + st.b[j] * h_prev[j];
    } else {
      const double pre = x_part(j) + h_part(j);
      st.h[j] = s.mode == RnnRefMode::rnn_tanh ? std::tanh(pre) : (pre > 0.0 ? pre : 0.0);
      st.a[j] = st.h[j];
    }
  }
  return st;
}

// Adds row-vector outer products: w[row, :] += g * v.
inline void add_outer(std::vector<double>& w, int row, int cols, double g, const double* v) {
  for (int k = 0; k < cols; ++k) w[static_cast<std::size_t>(row) * cols + k] += g * v[k];
}

// Given dh, dc at the step's outputs: accumulates parameter gradients into dp, adds the
// input's gradient into d_in and returns (dh_prev, dc_prev) through dh, dc.
inline void cell_backward(const RnnRefCase& s, const std::vector<double>* p, int in_size,
                          const Step& st, std::vector<double>& dh, std::vector<double>& dc,
                          std::vector<double>* dp, double* d_in) {
  const int H = s.hidden, G = s.gates();
  std::vector<double> d_x(G * H, 0.0), d_r(G * H, 0.0);  // pre-activation grads: x and h sides
  std::vector<double> dh_prev(H, 0.0), dc_prev(H, 0.0);
  for (int j = 0; j < H; ++j) {
    if (s.mode == RnnRefMode::lstm) {
      const double i = st.a[j], f = st.b[j], g = st.c[j], o = st.d[j], tc = std::tanh(st.cell[j]);
      const double d_o = dh[j] * tc * o * (1 - o);
      double dcell = dc[j] + dh[j] * o * (1 - tc * tc);
      if (s.peepholes) dcell += d_o * p[4][2 * H + j];
      const double d_i = dcell * g * i * (1 - i), d_f = dcell * st.c_prev[j] * f * (1 - f);
      const double d_g = dcell * i * (1 - g * g);
      dc_prev[j] = dcell * f;
      if (s.peepholes) {
        dc_prev[j] += d_i * p[4][j] + d_f * p[4][H + j];
        dp[4][j] += d_i * st.c_prev[j];
        dp[4][H + j] += d_f * st.c_prev[j];
        dp[4][2 * H + j] += d_o * st.cell[j];
      }
      d_x[j] = d_r[j] = d_i;
      d_x[H + j] = d_r[H + j] = d_f;
      d_x[2 * H + j] = d_r[2 * H + j] = d_g;
      d_x[3 * H + j] = d_r[3 * H + j] = d_o;
    } else if (s.mode == RnnRefMode::gru) {
      const double r = st.a[j], z = st.b[j], n = st.c[j], hn = st.d[j];
      const double d_n = dh[j] * (1 - z) * (1 - n * n);
      const double d_z = dh[j] * (st.h_prev[j] - n) * z * (1 - z);
      const double d_rr = d_n * hn * r * (1 - r);
      dh_prev[j] = dh[j] * z;
      d_x[j] = d_r[j] = d_rr;
      d_x[H + j] = d_r[H + j] = d_z;
      d_x[2 * H + j] = d_n;
      d_r[2 * H + j] = d_n * r;
    } else {
      const double h = st.a[j];
      const double deriv = s.mode == RnnRefMode::rnn_tanh ? 1 - h * h : (h > 0.0 ? 1.0 : 0.0);
      d_x[j] = d_r[j] = dh[j] * deriv;
    }
  }
  for (int row = 0; row < G * H; ++row) {
    add_outer(dp[0], row, in_size, d_x[row], st.in.data());
    add_outer(dp[1], row, H, d_r[row], st.h_prev.data());
    dp[2][row] += d_x[row];
    dp[3][row] += d_r[row];
    for (int k = 0; k < in_size; ++k) d_in[k] += d_x[row] * p[0][row * in_size + k];
    for (int k = 0; k < H; ++k) dh_prev[k] += d_r[row] * p[1][row * H + k];
  }
  dh = dh_prev;
  dc = dc_prev;
}

// Time index of step `step` of sequence b in direction `dir`.
inline int time_of(const RnnRefCase& s, int b, int dir, int step) {
  return dir == 0 ? step : s.length(b) - 1 - step;
}

inline std::vector<double> state_row(const std::vector<double>& all, const RnnRefCase& s,
                                     int cell, int b) {
  if (all.empty()) return std::vector<double>(s.hidden, 0.0);
  const auto first = all.begin() + (static_cast<std::size_t>(cell) * s.batch + b) * s.hidden;
  return std::vector<double>(first, first + s.hidden);
}

// The dropout mask scale (0 or 1/(1-p)) of element i of layer k's output.
inline double dropout_scale(const RnnRefCase& s, int k, std::size_t i) {
  const std::uint64_t offset = s.offset + static_cast<std::uint64_t>(k) * s.dropout_counters();
  return philox::uniform(s.seed, offset, i) >= s.dropout ? 1.0 / (1.0 - s.dropout) : 0.0;
}

struct Run {
  RnnRefOutput out;
  std::vector<std::vector<double>> inputs;                // per layer, [T, B, in_k]
  std::vector<std::vector<std::vector<Step>>> steps;      // [layer*D + dir][b][step]
};

inline Run run_forward(const RnnRefCase& s, const Params& p, const std::vector<double>& x,
                       const std::vector<double>& h0, const std::vector<double>& c0) {
  const int H = s.hidden, D = s.dirs(), B = s.batch, T = s.steps;
  Run run;
  run.out.hn.assign(static_cast<std::size_t>(s.layers) * D * B * H, 0.0);
  run.out.cn = run.out.hn;
  run.steps.resize(s.layers * D);
  std::vector<double> in = x;
  for (int k = 0; k < s.layers; ++k) {
    const int in_size = s.layer_input(k);
    run.inputs.push_back(in);
    std::vector<double> y(static_cast<std::size_t>(T) * B * D * H, 0.0);
    for (int dir = 0; dir < D; ++dir) {
      const int cell = k * D + dir;
      const std::vector<double>* cp = &p[cell * s.params_per_cell()];
      for (int b = 0; b < B; ++b) {
        std::vector<double> h = state_row(h0, s, cell, b), c = state_row(c0, s, cell, b);
        std::vector<Step> trail;
        for (int step = 0; step < s.length(b); ++step) {
          const int t = time_of(s, b, dir, step);
          const auto first = in.begin() + (static_cast<std::size_t>(t) * B + b) * in_size;
          trail.push_back(cell_forward(s, cp, in_size, {first, first + in_size}, h, c));
          h = trail.back().h;
          if (s.mode == RnnRefMode::lstm) c = trail.back().cell;
          for (int j = 0; j < H; ++j) y[((static_cast<std::size_t>(t) * B + b) * D + dir) * H + j] = h[j];
        }
        for (int j = 0; j < H; ++j) {
          run.out.hn[(static_cast<std::size_t>(cell) * B + b) * H + j] = h[j];
          run.out.cn[(static_cast<std::size_t>(cell) * B + b) * H + j] = c[j];
        }
        run.steps[cell].push_back(std::move(trail));
      }
    }
    in = y;
    if (k + 1 < s.layers && s.dropout > 0) {
      for (std::size_t i = 0; i < in.size(); ++i) in[i] *= dropout_scale(s, k, i);
    }
  }
  run.out.y = in;
  if (s.mode != RnnRefMode::lstm) run.out.cn.clear();
  return run;
}

}  // namespace rnn_detail

// h0, c0 empty: zeros. Dropout is applied when s.dropout > 0 (the training forward).
inline RnnRefOutput rnn_forward(const RnnRefCase& s, const Params& p, const std::vector<double>& x,
                                const std::vector<double>& h0, const std::vector<double>& c0) {
  return rnn_detail::run_forward(s, p, x, h0, c0).out;
}

// dhn, dcn empty: zeros. Backpropagation through time over the forward above.
inline RnnRefGrads rnn_backward(const RnnRefCase& s, const Params& p, const std::vector<double>& x,
                                const std::vector<double>& h0, const std::vector<double>& c0,
                                const std::vector<double>& dy, const std::vector<double>& dhn,
                                const std::vector<double>& dcn) {
  using namespace rnn_detail;
  const int H = s.hidden, D = s.dirs(), B = s.batch;
  const Run run = run_forward(s, p, x, h0, c0);
  RnnRefGrads g;
  for (const auto& t : p) g.dparams.emplace_back(t.size(), 0.0);
  g.dh0.assign(static_cast<std::size_t>(s.layers) * D * B * H, 0.0);
  g.dc0 = g.dh0;
  std::vector<double> d_out = dy;
  for (int k = s.layers - 1; k >= 0; --k) {
    if (k + 1 < s.layers && s.dropout > 0) {
      for (std::size_t i = 0; i < d_out.size(); ++i) d_out[i] *= dropout_scale(s, k, i);
    }
    const int in_size = s.layer_input(k);
    std::vector<double> d_in(run.inputs[k].size(), 0.0);
    for (int dir = 0; dir < D; ++dir) {
      const int cell = k * D + dir;
      const std::vector<double>* cp = &p[cell * s.params_per_cell()];
      std::vector<double>* dp = &g.dparams[cell * s.params_per_cell()];
      for (int b = 0; b < B; ++b) {
        std::vector<double> dh = state_row(dhn, s, cell, b), dc = state_row(dcn, s, cell, b);
        for (int step = s.length(b) - 1; step >= 0; --step) {
          const int t = time_of(s, b, dir, step);
          for (int j = 0; j < H; ++j) dh[j] += d_out[((static_cast<std::size_t>(t) * B + b) * D + dir) * H + j];
          double* d_in_row = &d_in[(static_cast<std::size_t>(t) * B + b) * in_size];
          cell_backward(s, cp, in_size, run.steps[cell][b][step], dh, dc, dp, d_in_row);
        }
        for (int j = 0; j < H; ++j) {
          g.dh0[(static_cast<std::size_t>(cell) * B + b) * H + j] = dh[j];
          g.dc0[(static_cast<std::size_t>(cell) * B + b) * H + j] = dc[j];
        }
      }
    }
    d_out = d_in;
  }
  g.dx = d_out;
  if (s.mode != RnnRefMode::lstm) g.dc0.clear();
  return g;
}

}  // namespace kiln::reference
