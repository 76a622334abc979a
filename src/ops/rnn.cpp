// The recurrent op's sequence driver (Appleyard et al. 2016). Per (layer, direction):
//   forward:  x_proj = in W_ih^T + b_ih for all T steps (one GEMM); per step s
//             h_proj = h(s) W_hh^T (one GEMM) then one fused cell (kernels/rnn_cell.h);
//   backward: per step, from the last: one fused cell backward, then dh(s) += d_h(s) W_hh
//             (one GEMM); after the loop dW_hh = d_h^T h (one GEMM over all steps, h kept in
//             step order), dW_ih = d_x^T in, d_in = d_x W_ih and the bias column sums.
// On the CPU every GEMM's right-hand operand is packed once per call (PackedOperand,
// cpu/rnn_gemm.h), so the T per-step products share one packing of W_hh.
// States are kept per step in step order, hs[s] = the state step s reads (hs[0] = h0), so the
// state after a sequence's own last step is hs[T] (idle steps copy it through).
// Scratch comes from a Workspace (kept in the reserve when there is one); docs/RECURRENT.md
// has the layouts and rules.
#include "kiln/ops/rnn.h"

#include <array>
#include <utility>

#include "cpu/linear.h"
#include "cpu/rnn.h"
#include "cpu/rnn_gemm.h"
#include "kiln/gemm.h"
#include "kiln/ops/dropout.h"
#include "ops/checks.h"
#include "ops/kernels.h"
#include "ops/rnn_checks.h"

#if KILN_HAVE_CUDA
#include "cudnn/rnn.h"
#endif

namespace kiln {

int rnn_gate_count(RnnMode mode) { return rnn_gates(mode); }

const char* rnn_mode_name(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm: return "lstm";
    case RnnMode::gru: return "gru";
    case RnnMode::rnn_tanh: return "rnn_tanh";
    case RnnMode::rnn_relu: return "rnn_relu";
  }
  return "?";
}

std::vector<RnnParamSpec> rnn_param_specs(const RnnConfig& c) {
  const int64_t gh = static_cast<int64_t>(rnn_gate_count(c.mode)) * c.hidden_size;
  std::vector<RnnParamSpec> specs;
  for (int k = 0; k < c.num_layers; ++k) {
    const int64_t in = k == 0 ? c.input_size : static_cast<int64_t>(c.hidden_size) * c.directions();
    for (int d = 0; d < c.directions(); ++d) {
      const std::string suffix = "_l" + std::to_string(k) + (d == 1 ? "_reverse" : "");
      specs.push_back({"weight_ih" + suffix, {gh, in}});
      specs.push_back({"weight_hh" + suffix, {gh, c.hidden_size}});
      specs.push_back({"bias_ih" + suffix, {gh}});
      specs.push_back({"bias_hh" + suffix, {gh}});
      if (c.peepholes) specs.push_back({"weight_ch" + suffix, {3 * static_cast<int64_t>(c.hidden_size)}});
    }
  }
  return specs;
}

namespace ops {

namespace {

using rnn::Dims;

// The parameters of one (layer, direction).
struct CellParams {
  const float *w_ih, *w_hh, *b_ih, *b_hh, *w_ch;
};
struct CellGrads {
  float *w_ih, *w_hh, *b_ih, *b_hh, *w_ch;
};

template <class Ptr, class List>
std::array<Ptr, 5> cell_slice(const Dims& s, const List& list, int k, int d) {
  const int per_cell = s.peepholes ? 5 : 4;
  const std::size_t first = static_cast<std::size_t>(k * s.D + d) * per_cell;
  std::array<Ptr, 5> out{};
  for (int i = 0; i < per_cell; ++i) out[i] = list[first + i]->data();
  return out;
}

CellParams cell_params(const Dims& s, const std::vector<const Tensor*>& params, int k, int d) {
  const auto p = cell_slice<const float*>(s, params, k, d);
  return {p[0], p[1], p[2], p[3], p[4]};
}

CellGrads cell_grads(const Dims& s, const std::vector<Tensor*>& grads, int k, int d) {
  const auto g = cell_slice<float*>(s, grads, k, d);
  return {g[0], g[1], g[2], g[3], g[4]};
}

// ---- device-neutral element-wise helpers -------------------------------------------------

void zero_floats(const Device& device, float* dst, int64_t n) {
  rt::runtime(device).memset(dst, 0, static_cast<std::size_t>(n) * sizeof(float));
}

void copy_floats(const Device& device, float* dst, const float* src, int64_t n) {
  rt::runtime(device).copy_within(dst, src, static_cast<std::size_t>(n) * sizeof(float));
}

// dst = src, or zeros when src is null.
void init_floats(const Device& device, float* dst, const float* src, int64_t n) {
  if (src) return copy_floats(device, dst, src, n);
  zero_floats(device, dst, n);
}

void add_bias(const Device& device, float* y, const float* bias, int64_t rows, int cols) {
  if (device.is_cpu()) return cpu::bias_add(y, bias, rows, cols);
  KILN_KERNEL(device, bias_add, y, bias, rows, cols);
}

void column_sums(const Device& device, const float* m, float* sums, int64_t rows, int cols) {
  if (device.is_cpu()) return cpu::bias_grad(m, sums, rows, cols);
  KILN_KERNEL(device, bias_grad, m, sums, rows, cols);
}

void cell_forward(const Device& device, const RnnForwardStep& step) {
  if (device.is_cpu()) return cpu::rnn_cell_forward(step);
  KILN_KERNEL(device, rnn_cell_forward, step);
}

void cell_backward(const Device& device, const RnnBackwardStep& step) {
  if (device.is_cpu()) return cpu::rnn_cell_backward(step);
  KILN_KERNEL(device, rnn_cell_backward, step);
}

void peephole_grad(const Device& device, const float* d_h, const float* c, const Dims& s,
                   float* dw) {
  const int64_t rows = static_cast<int64_t>(s.T) * s.B;
  if (device.is_cpu()) return cpu::rnn_peephole_grad(d_h, c, rows, s.B, s.H, dw);
  KILN_KERNEL(device, rnn_peephole_grad, d_h, c, rows, s.B, s.H, dw);
}

// A call's scratch buffers by role. With a reserve they are its `scratch` and outlive the
// call (a training loop that reuses its reserve allocates and first-touches them once);
// without one they are the call's own. A kept buffer at least as large is reused.
enum class Scratch { x_proj, h_proj, packed_w_ih, packed_w_hh, d_x, d_h, dh, dc, packed_states,
                     packed_in, transposed_a, count };

class Workspace {
 public:
  Workspace(const Device& device, std::vector<Tensor>* kept)
      : device_(device), pool_(kept ? *kept : own_) {
    pool_.resize(static_cast<std::size_t>(Scratch::count));
  }

  float* get(Scratch role, int64_t floats) {
    Tensor& t = pool_[static_cast<std::size_t>(role)];
    if (!t.defined() || t.numel() < floats || t.device() != device_) t = Tensor({floats}, device_);
    return t.data();
  }

 private:
  const Device& device_;
  std::vector<Tensor> own_;
  std::vector<Tensor>& pool_;
};

// The right-hand operand op(B) [k, n] of a layer's GEMMs C[m, n] = op(A) op(B) (+ C), B
// row-major. On the CPU it is packed once (cpu/rnn_gemm.h) and every product with it runs the
// packed tiles: W_hh serves all T steps without the per-call repacking of a general GEMM, and
// the tiles use the widest vectors the CPU has. Elsewhere it goes through the GEMM wrapper.
class PackedOperand {
 public:
  PackedOperand(const Device& device, Transpose trans_b, const float* b, int k, int n,
                Workspace& workspace, Scratch role)
      : device_(device), workspace_(workspace), trans_b_(trans_b), b_(b), k_(k), n_(n) {
    if (!device.is_cpu()) return;
    float* packed = workspace.get(role, cpu::rnn_packed_floats(k, n));
    cpu::rnn_pack_weights(trans_b, b, trans_b == Transpose::no ? n : k, k, n, packed);
    packed_ = packed;
  }

  void multiply(Transpose trans_a, int m, const float* a, bool accumulate, float* c) const {
    if (!device_.is_cpu()) {
      return gemm_row_major(device_, trans_a, trans_b_, m, n_, k_, 1.0f, a, b_,
                            accumulate ? 1.0f : 0.0f, c);
    }
    if (trans_a == Transpose::yes) {  // a is [k, m]
      float* a_t = workspace_.get(Scratch::transposed_a, static_cast<int64_t>(m) * k_);
      cpu::rnn_transpose(a, k_, m, a_t);
      a = a_t;
    }
    cpu::rnn_gemm_packed(m, n_, k_, a, k_, packed_, accumulate, c, n_);
  }

 private:
  const Device& device_;
  Workspace& workspace_;
  Transpose trans_b_;
  const float* b_;
  int k_, n_;
  const float* packed_ = nullptr;  // cpu only
};

// ---- one (layer, direction) ----------------------------------------------------------------

// Where one (layer, direction) keeps its per-step states and activations.
struct CellTrace {
  float* hs;     // [T+1, B, H] step order
  float* cs;     // [T+1, B, H] step order, lstm only (else null)
  float* saved;  // [T, B, saved_per_unit * H] step order (inference: [B, *], reused)
  int64_t saved_step;  // floats between steps in `saved`: 0 in inference
};

RnnStepShape step_shape(const Dims& s, int d, int step, const float* lengths) {
  return {s.mode, s.B, s.H, s.T, step, d, s.D * s.H, d * s.H, lengths};
}

// Runs direction d of one layer over `in` [T, B, in_k], writing its half of `out`.
void forward_cell(const Device& device, const Dims& s, const CellParams& p, int k, int d,
                  const float* in, const float* lengths, const float* h0, const float* c0,
                  float* out, const CellTrace& trace, Workspace& ws) {
  const int gh = s.G * s.H;
  const int64_t tb = static_cast<int64_t>(s.T) * s.B, bh = static_cast<int64_t>(s.B) * s.H;
  float* x_proj = ws.get(Scratch::x_proj, tb * gh);
  float* h_proj = ws.get(Scratch::h_proj, s.B * static_cast<int64_t>(gh));
  PackedOperand(device, Transpose::yes, p.w_ih, s.in(k), gh, ws, Scratch::packed_w_ih)
      .multiply(Transpose::no, static_cast<int>(tb), in, false, x_proj);
  add_bias(device, x_proj, p.b_ih, tb, gh);
  init_floats(device, trace.hs, h0, bh);
  if (trace.cs) init_floats(device, trace.cs, c0, bh);
  const PackedOperand w_hh(device, Transpose::yes, p.w_hh, s.H, gh, ws, Scratch::packed_w_hh);
  for (int step = 0; step < s.T; ++step) {
    const float* h_prev = trace.hs + step * bh;
    w_hh.multiply(Transpose::no, s.B, h_prev, false, h_proj);
    RnnForwardStep a{step_shape(s, d, step, lengths),
                     x_proj,
                     h_proj,
                     p.b_hh,
                     p.w_ch,
                     h_prev,
                     trace.cs ? trace.cs + step * bh : nullptr,
                     trace.hs + (step + 1) * bh,
                     trace.cs ? trace.cs + (step + 1) * bh : nullptr,
                     out,
                     trace.saved + step * trace.saved_step};
    cell_forward(device, a);
  }
}

// What backward reads of one (layer, direction)'s forward (a CellTrace, read-only).
struct SavedTrace {
  const float *hs, *cs, *saved;
};

// Scratch of the backward pass (from the Workspace).
struct BackwardScratch {
  float* d_x;  // [T, B, G*H] time order
  float* d_h;  // [T, B, G*H] step order (may be d_x: see backward_cell)
  float* dh;   // [2, B, H] carries, ping-pong
  float* dc;   // [2, B, H]
};

struct StateGrads {
  const float *dhn, *dcn;  // this cell's slices, or null
  float *dh0, *dc0;        // this cell's slices, or null
};

// Backpropagation through time for direction d of layer k. `d_in` (null: not wanted) gets
// d_x W_ih, added to what is there when `accumulate`.
void backward_cell(const Device& device, const Dims& s, const CellParams& p, const CellGrads& g,
                   int k, int d, const float* in, const float* lengths, const float* d_out,
                   const SavedTrace& trace, const StateGrads& st, const BackwardScratch& w,
                   Workspace& ws, float* d_in, bool accumulate) {
  const int gh = s.G * s.H, in_size = s.in(k);
  const int64_t tb = static_cast<int64_t>(s.T) * s.B, bh = static_cast<int64_t>(s.B) * s.H;
  // Step order is time order in the forward direction, so lstm and rnn (whose x-side and
  // h-side gate gradients are equal) write one buffer there.
  float* d_h = (d == 0 && s.mode != RnnMode::gru) ? w.d_x : w.d_h;
  init_floats(device, w.dh, st.dhn, bh);
  if (trace.cs) init_floats(device, w.dc, st.dcn, bh);
  const int64_t saved_row = bh * rnn_saved_per_unit(s.mode);
  const PackedOperand w_hh(device, Transpose::no, p.w_hh, gh, s.H, ws, Scratch::packed_w_hh);
  int cur = 0;
  for (int step = s.T - 1; step >= 0; --step) {
    const int next = 1 - cur;
    float* d_h_step = d_h + step * s.B * static_cast<int64_t>(gh);
    RnnBackwardStep a{step_shape(s, d, step, lengths),
                      p.w_ch,
                      trace.saved + step * saved_row,
                      trace.hs + step * bh,
                      trace.cs ? trace.cs + step * bh : nullptr,
                      trace.cs ? trace.cs + (step + 1) * bh : nullptr,
                      d_out,
                      w.dh + cur * bh,
                      trace.cs ? w.dc + cur * bh : nullptr,
                      w.dh + next * bh,
                      trace.cs ? w.dc + next * bh : nullptr,
                      w.d_x,
                      d_h_step};
    cell_backward(device, a);
    w_hh.multiply(Transpose::no, s.B, d_h_step, true, w.dh + next * bh);
    cur = next;
  }
  if (st.dh0) copy_floats(device, st.dh0, w.dh + cur * bh, bh);
  if (st.dc0) copy_floats(device, st.dc0, w.dc + cur * bh, bh);
  const int rows = static_cast<int>(tb);
  PackedOperand(device, Transpose::no, trace.hs, rows, s.H, ws, Scratch::packed_states)
      .multiply(Transpose::yes, gh, d_h, false, g.w_hh);
  column_sums(device, d_h, g.b_hh, tb, gh);
  PackedOperand(device, Transpose::no, in, rows, in_size, ws, Scratch::packed_in)
      .multiply(Transpose::yes, gh, w.d_x, false, g.w_ih);
  column_sums(device, w.d_x, g.b_ih, tb, gh);
  if (s.peepholes) peephole_grad(device, d_h, trace.cs, s, g.w_ch);
  if (d_in) {
    PackedOperand(device, Transpose::no, p.w_ih, gh, in_size, ws, Scratch::packed_w_ih)
        .multiply(Transpose::no, rows, w.d_x, accumulate, d_in);
  }
}

// ---- the reserve ---------------------------------------------------------------------------
// saved[k * (1 + 3D)] = layer k's input (k > 0; the previous layer's output after dropout);
// saved[k * (1 + 3D) + 1 + 3d + {0, 1, 2}] = saved activations, hs, cs of (k, d).

std::size_t input_slot(const Dims& s, int k) { return static_cast<std::size_t>(k) * (1 + 3 * s.D); }
std::size_t trace_slot(const Dims& s, int k, int d) { return input_slot(s, k) + 1 + 3 * d; }

Shape saved_shape(const Dims& s) { return {s.T, s.B, rnn_saved_per_unit(s.mode) * s.H}; }
Shape states_shape(const Dims& s) { return {s.T + 1, s.B, s.H}; }

float* data_or_null(Tensor& t) { return t.defined() ? t.data() : nullptr; }

CellTrace trace_of(std::vector<Tensor>& saved, std::size_t slot) {
  return {saved[slot + 1].data(), data_or_null(saved[slot + 2]), saved[slot].data(),
          saved[slot].numel() / saved[slot].dim(0)};
}

SavedTrace saved_trace(const std::vector<Tensor>& saved, std::size_t slot) {
  const Tensor& cs = saved[slot + 2];
  return {saved[slot + 1].data(), cs.defined() ? cs.data() : nullptr, saved[slot].data()};
}

// Keeps `t` when it already has this shape on this device, else allocates it: a training loop
// that passes the same reserve every step allocates (and first-touches) nothing for it.
void ensure(Tensor& t, const Shape& shape, const Device& device) {
  if (!t.defined() || t.shape() != shape || t.device() != device) t = Tensor(shape, device);
}

void prepare_reserve(const Dims& s, const Device& device, std::vector<Tensor>& saved) {
  saved.resize(input_slot(s, s.L));
  saved[input_slot(s, 0)] = Tensor();  // layer 0 reads x
  for (int k = 0; k < s.L; ++k) {
    if (k > 0) ensure(saved[input_slot(s, k)], {s.T, s.B, s.D * s.H}, device);
    for (int d = 0; d < s.D; ++d) {
      const std::size_t slot = trace_slot(s, k, d);
      ensure(saved[slot], saved_shape(s), device);
      ensure(saved[slot + 1], states_shape(s), device);
      if (s.mode == RnnMode::lstm) {
        ensure(saved[slot + 2], states_shape(s), device);
      } else {
        saved[slot + 2] = Tensor();
      }
    }
  }
}

const float* slice(const Tensor* t, const Dims& s, int k, int d) {
  return t ? t->data() + static_cast<int64_t>(k * s.D + d) * s.B * s.H : nullptr;
}
float* slice(Tensor* t, const Dims& s, int k, int d) {
  return t ? t->data() + static_cast<int64_t>(k * s.D + d) * s.B * s.H : nullptr;
}

// Dropout on layer k's output: its own Philox counters, after those of layers 0 .. k-1.
uint64_t dropout_offset(const Dims& s, const RnnDropout& dropout, int k) {
  const uint64_t elements = static_cast<uint64_t>(s.T) * s.B * s.D * s.H;
  return dropout.offset + static_cast<uint64_t>(k) * ((elements + 3) / 4);
}

}  // namespace

void rnn_forward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                 const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                 Tensor& y, Tensor* hn, Tensor* cn, RnnReserve* reserve,
                 const RnnDropout& dropout, Engine engine) {
  check_engine("rnn", engine, x.device());
  if (engine == Engine::cudnn) {
    KILN_CHECK(!config.peepholes, "rnn: cuDNN has no peephole LSTM; use engine native");
#if KILN_HAVE_CUDA
    return cudnn::rnn_forward(config, params, x, lengths, h0, c0, y, hn, cn, reserve, dropout);
#else
    throw Error("rnn: the cudnn engine is not built into this version; use engine native");
#endif
  }
  const Dims s = rnn::check_forward(config, params, x, lengths, h0, c0, y, hn, cn);
  const Device& device = x.device();
  const bool training = reserve != nullptr;
  const bool drop = training && config.dropout > 0.0f && s.L > 1;
  const float* lens = lengths ? lengths->data() : nullptr;
  std::vector<Tensor> scratch_trace(3);  // inference: one trace reused by every cell
  if (training) {
    prepare_reserve(s, device, reserve->saved);
  } else {
    scratch_trace[0] = Tensor({s.B, rnn_saved_per_unit(s.mode) * s.H}, device);
    scratch_trace[1] = Tensor(states_shape(s), device);
    if (s.mode == RnnMode::lstm) scratch_trace[2] = Tensor(states_shape(s), device);
  }
  Workspace ws(device, training ? &reserve->scratch : nullptr);
  Tensor layer_in, layer_out;  // inference: input and output of the current layer
  const float* in = x.data();
  for (int k = 0; k < s.L; ++k) {
    float* out = y.data();  // training writes inner layers' outputs into the reserve
    if (k + 1 < s.L) {
      out = training ? reserve->saved[input_slot(s, k + 1)].data()
                     : (layer_out = Tensor({s.T, s.B, s.D * s.H}, device)).data();
    }
    for (int d = 0; d < s.D; ++d) {
      const CellTrace trace = training ? trace_of(reserve->saved, trace_slot(s, k, d))
                                       : CellTrace{scratch_trace[1].data(),
                                                   data_or_null(scratch_trace[2]),
                                                   scratch_trace[0].data(), 0};
      forward_cell(device, s, cell_params(s, params, k, d), k, d, in, lens, slice(h0, s, k, d),
                   slice(c0, s, k, d), out, trace, ws);
      const int64_t bh = static_cast<int64_t>(s.B) * s.H;
      if (hn) copy_floats(device, slice(hn, s, k, d), trace.hs + s.T * bh, bh);
      if (cn) copy_floats(device, slice(cn, s, k, d), trace.cs + s.T * bh, bh);
    }
    if (k + 1 == s.L) break;
    if (training) {
      Tensor& next_in = reserve->saved[input_slot(s, k + 1)];
      if (drop) {
        dropout_forward(next_in, next_in, config.dropout, dropout.seed,
                        dropout_offset(s, dropout, k));
      }
      in = next_in.data();
    } else {
      layer_in = std::move(layer_out);
      in = layer_in.data();
    }
  }
}

void rnn_backward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                  const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                  const Tensor& y, const Tensor& dy, const Tensor* dhn, const Tensor* dcn,
                  const RnnReserve& reserve, Tensor* dx, Tensor* dh0, Tensor* dc0,
                  const std::vector<Tensor*>& grads, const RnnDropout& dropout, Engine engine) {
  check_engine("rnn backward", engine, x.device());
  if (engine == Engine::cudnn) {
    KILN_CHECK(!config.peepholes, "rnn backward: cuDNN has no peephole LSTM; use engine native");
#if KILN_HAVE_CUDA
    return cudnn::rnn_backward(config, params, x, lengths, h0, c0, y, dy, dhn, dcn, reserve, dx,
                               dh0, dc0, grads, dropout);
#else
    throw Error("rnn backward: the cudnn engine is not built into this version; use engine native");
#endif
  }
  const Dims s = rnn::check_backward(config, params, x, lengths, h0, c0, y, dy, dhn, dcn, dx,
                                     dh0, dc0, grads);
  rnn::check_reserve(s, reserve.saved, saved_shape(s), states_shape(s), x.device());
  const Device& device = x.device();
  const bool drop = config.dropout > 0.0f && s.L > 1;
  const float* lens = lengths ? lengths->data() : nullptr;
  const std::vector<Tensor>& saved = reserve.saved;
  const int gh = s.G * s.H;
  Workspace ws(device, &reserve.scratch);
  const int64_t tbg = static_cast<int64_t>(s.T) * s.B * gh, bh2 = 2 * s.B * int64_t{s.H};
  const BackwardScratch scratch{ws.get(Scratch::d_x, tbg), ws.get(Scratch::d_h, tbg),
                                ws.get(Scratch::dh, bh2), ws.get(Scratch::dc, bh2)};
  Tensor d_layer_out;  // gradient of layer k's output (k < L-1)
  const float* d_out = dy.data();
  for (int k = s.L - 1; k >= 0; --k) {
    const float* in = k == 0 ? x.data() : saved[input_slot(s, k)].data();
    Tensor d_layer_in;
    float* d_in = k == 0 ? (dx ? dx->data() : nullptr)
                         : (d_layer_in = Tensor({s.T, s.B, s.in(k)}, device)).data();
    for (int d = 0; d < s.D; ++d) {
      const StateGrads st{slice(dhn, s, k, d), slice(dcn, s, k, d), slice(dh0, s, k, d),
                          slice(dc0, s, k, d)};
      backward_cell(device, s, cell_params(s, params, k, d), cell_grads(s, grads, k, d), k, d,
                    in, lens, d_out, saved_trace(saved, trace_slot(s, k, d)), st, scratch, ws,
                    d_in, d > 0);
    }
    if (k == 0) break;
    if (drop) {
      dropout_backward(d_layer_in, d_layer_in, config.dropout, dropout.seed,
                       dropout_offset(s, dropout, k - 1));
    }
    d_layer_out = std::move(d_layer_in);
    d_out = d_layer_out.data();
  }
}

}  // namespace ops
}  // namespace kiln
