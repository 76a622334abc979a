// kiln_bench_rnn: one LSTM layer, forward and backward (a training step's recurrent work),
// on the cpu device and on the emulator (correctness only, one tiny run), against
// torch::nn::LSTM (libtorch, CPU, same thread count) in the same run. Prints JSON: per
// shape the fastest and the median ms of kiln and libtorch, GFLOP/s (GEMM flop count) and
// the kiln/libtorch ratio from the fastest, and where kiln's time goes: the GEMMs of the
// layer timed alone at the same shapes, run as kiln runs them (packed operands,
// cpu/rnn_gemm.h: input projection, the T recurrent GEMMs of each pass, weight gradients, input
// gradient) and the rest (fused cells, bias sums, copies) as the difference.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cpu/rnn_gemm.h"
#include "kiln/device.h"
#include "kiln/gemm.h"
#include "kiln/ops/rnn.h"
#include "kiln/philox.h"
#include "kiln/tensor.h"
#include "torch_peer.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

using kiln::Device;
using kiln::Tensor;
using kiln::Transpose;

struct Shape {
  int features, hidden, steps, batch;
  bool bidirectional;
  int directions() const { return bidirectional ? 2 : 1; }
  std::string text() const {
    return "F" + std::to_string(features) + " H" + std::to_string(hidden) + " T" +
           std::to_string(steps) + " B" + std::to_string(batch) +
           (bidirectional ? " bidirectional" : "");
  }
  // Useful flops: per direction the input projection 2 T B F 4H and the recurrent GEMMs
  // 2 T B H 4H forward; backward needs each product twice (data and weight gradients).
  double flops() const {
    return 3.0 * directions() * 2.0 * steps * batch * 4.0 * hidden * (features + hidden);
  }
};

// The fastest of `repeats` timed runs after `warmup` untimed ones. On a machine shared with
// other work the fastest run is the least disturbed one; the median is reported beside it.
struct Timing {
  double min_ms, median_ms;
};

Timing time_ms(const std::function<void()>& step, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2]};
}

double min_ms(const std::function<void()>& step, int warmup, int repeats) {
  return time_ms(step, warmup, repeats).min_ms;
}

Tensor uniform(const kiln::Shape& shape, const Device& device, uint64_t seed, float scale) {
  std::vector<float> v(kiln::numel_of(shape));
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = (kiln::philox::uniform(seed, 0, i) * 2.0f - 1.0f) * scale;
  }
  return Tensor::from_vector(v, shape, device);
}

// One kiln LSTM layer's forward + backward, inputs allocated once.
struct KilnLstm {
  KilnLstm(const Shape& s, const Device& device) {
    config.input_size = s.features;
    config.hidden_size = s.hidden;
    config.bidirectional = s.bidirectional;
    uint64_t seed = 1;
    for (const kiln::RnnParamSpec& spec : kiln::rnn_param_specs(config)) {
      params.push_back(uniform(spec.shape, device, seed++, 0.0625f));  // 1/sqrt(H) at H = 256
      grads.push_back(Tensor(spec.shape, device));
    }
    const int64_t T = s.steps, B = s.batch, DH = s.directions() * s.hidden;
    x = uniform({T, B, s.features}, device, seed++, 1.0f);
    dy = uniform({T, B, DH}, device, seed++, 1.0f);
    y = Tensor({T, B, DH}, device);
    dx = Tensor(x.shape(), device);
  }
  void step() {
    std::vector<const Tensor*> p;
    std::vector<Tensor*> g;
    for (std::size_t i = 0; i < params.size(); ++i) {
      p.push_back(&params[i]);
      g.push_back(&grads[i]);
    }
    kiln::ops::rnn_forward(config, p, x, nullptr, nullptr, nullptr, y, nullptr, nullptr, &reserve);
    kiln::ops::rnn_backward(config, p, x, nullptr, nullptr, nullptr, y, dy, nullptr, nullptr,
                            reserve, &dx, nullptr, nullptr, g);
  }
  kiln::RnnConfig config;
  std::vector<Tensor> params, grads;
  Tensor x, dy, y, dx;
  // Kept between steps as a training loop keeps it (src/graph's LSTM layer owns one): the
  // reserve's buffers and scratch are then allocated once, not on every step.
  kiln::RnnReserve reserve;
};

// The GEMMs of one layer's forward + backward at the driver's shapes, timed alone.
nlohmann::json gemm_split(const Shape& s, int warmup, int repeats) {
  const Device cpu = Device::cpu();
  const int TB = s.steps * s.batch, G = 4 * s.hidden, F = s.features, H = s.hidden;
  const int D = s.directions();
  Tensor x = uniform({TB, F}, cpu, 1, 1.0f), h = uniform({TB, H}, cpu, 2, 1.0f);
  Tensor w_ih = uniform({G, F}, cpu, 3, 0.06f), w_hh = uniform({G, H}, cpu, 4, 0.06f);
  Tensor gates = uniform({TB, G}, cpu, 5, 1.0f), dw_ih({G, F}, cpu), dw_hh({G, H}, cpu);
  // dh and step_gates are the recurrent products' left operands: uninitialised memory
  // there held denormals or NaNs now and then, and the split came out 5-10x slower than
  // the whole layer.
  Tensor dx({TB, F}, cpu), dh = uniform({s.batch, H}, cpu, 6, 1.0f);
  Tensor step_gates = uniform({s.batch, G}, cpu, 7, 1.0f);
  // As kiln's CPU path runs them (src/ops/rnn.cpp, PackedOperand): op(B) packed once per
  // product, or once for all T steps of a recurrent loop, then the packed tiles.
  std::vector<float> packed;
  const auto pack = [&](Transpose tb, int k, int n, const Tensor& b) {
    packed.resize(static_cast<std::size_t>(kiln::cpu::rnn_packed_floats(k, n)));
    kiln::cpu::rnn_pack_weights(tb, b.data(), tb == Transpose::no ? n : k, k, n, packed.data());
  };
  std::vector<float> a_t;
  const auto multiply = [&](Transpose ta, int m, int n, int k, const Tensor& a, Tensor& c) {
    const float* rows = a.data();
    if (ta == Transpose::yes) {
      a_t.resize(static_cast<std::size_t>(m) * k);
      kiln::cpu::rnn_transpose(a.data(), k, m, a_t.data());
      rows = a_t.data();
    }
    kiln::cpu::rnn_gemm_packed(m, n, k, rows, k, packed.data(), false, c.data(), n);
  };
  const auto row = [&](Transpose ta, Transpose tb, int m, int n, int k, const Tensor& a,
                       const Tensor& b, Tensor& c) {
    pack(tb, k, n, b);
    multiply(ta, m, n, k, a, c);
  };
  const double input = min_ms([&] { row(Transpose::no, Transpose::yes, TB, G, F, x, w_ih, gates); },
                                 warmup, repeats);
  const double recurrent_fwd = min_ms([&] {
    pack(Transpose::yes, H, G, w_hh);
    for (int t = 0; t < s.steps; ++t) multiply(Transpose::no, s.batch, G, H, dh, step_gates);
  }, warmup, repeats);
  const double recurrent_bwd = min_ms([&] {
    pack(Transpose::no, G, H, w_hh);
    for (int t = 0; t < s.steps; ++t) multiply(Transpose::no, s.batch, H, G, step_gates, dh);
  }, warmup, repeats);
  const double weight_grads = min_ms([&] {
    row(Transpose::yes, Transpose::no, G, F, TB, gates, x, dw_ih);
    row(Transpose::yes, Transpose::no, G, H, TB, gates, h, dw_hh);
  }, warmup, repeats);
  const double input_grad = min_ms([&] { row(Transpose::no, Transpose::no, TB, F, G, gates, w_ih, dx); },
                                      warmup, repeats);
  return {{"input_projection_ms", D * input},
          {"recurrent_forward_ms", D * recurrent_fwd},
          {"recurrent_backward_ms", D * recurrent_bwd},
          {"weight_gradient_ms", D * weight_grads},
          {"input_gradient_ms", D * input_grad},
          {"gemm_total_ms", D * (input + recurrent_fwd + recurrent_bwd + weight_grads + input_grad)}};
}

#if KILN_HAVE_TORCH
std::function<void()> torch_step(const Shape& s) {
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(s.features, s.hidden).bidirectional(s.bidirectional));
  const auto x = torch::rand({s.steps, s.batch, s.features}).mul_(2).sub_(1).requires_grad_(true);
  const auto dy = torch::rand({s.steps, s.batch, s.directions() * s.hidden}).mul_(2).sub_(1);
  return [=]() mutable {
    lstm->zero_grad();
    const auto y = std::get<0>(lstm->forward(x));
    y.backward(dy);
  };
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln_bench_rnn: LSTM layer forward+backward (JSON), kiln cpu vs libtorch"};
  int repeats = 10, warmup = 2;
  bool skip_simt = false;
  app.add_option("--repeats", repeats, "timed runs per shape (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed runs before timing")->check(CLI::NonNegativeNumber);
  app.add_flag("--skip-simt", skip_simt, "do not run the emulator's correctness-only step");
  CLI11_PARSE(app, argc, argv);
#if KILN_HAVE_TORCH
  torch::set_num_threads(omp_get_max_threads());  // the same threads as kiln's OpenMP loops
#endif
  nlohmann::json out;
  out["kiln_cpu_threads"] = omp_get_max_threads();
#if KILN_HAVE_TORCH
  out["peer"] = {{"name", "libtorch"}, {"version", TORCH_VERSION}, {"module", "torch::nn::LSTM"},
                 {"threads", torch::get_num_threads()}};
#else
  out["peer"] = {{"name", nullptr}, {"note", "built without libtorch: no peer timings"}};
#endif
  if (!skip_simt) {
    // The emulator runs the same kernels for correctness (tests compare them); one tiny
    // step shows the path works here, its time means nothing.
    KilnLstm tiny({8, 16, 3, 2, true}, Device::simt());
    out["simt_tiny_step_ms"] = min_ms([&] { tiny.step(); }, 0, 1);
  }
  nlohmann::json results = nlohmann::json::array();
  for (bool bidirectional : {false, true}) {
    for (int steps : {25, 50}) {
      for (int batch : {1, 16, 32, 64}) {
        const Shape s{128, 256, steps, batch, bidirectional};
        std::cerr << "kiln_bench_rnn: " << s.text() << "\n";
        KilnLstm kiln_lstm(s, Device::cpu());
        const Timing kiln_t = time_ms([&] { kiln_lstm.step(); }, warmup, repeats);
        const double kiln_ms = kiln_t.min_ms;
        nlohmann::json entry{{"op", "lstm_forward_backward"}, {"shape", s.text()},
                             {"flops", s.flops()},
                             {"kiln_cpu", {{"ms", kiln_ms}, {"median_ms", kiln_t.median_ms},
                                           {"gflops", s.flops() / kiln_ms / 1e6}}}};
        nlohmann::json split = gemm_split(s, warmup, repeats);
        split["cells_bias_copies_ms"] = kiln_ms - split["gemm_total_ms"].get<double>();
        entry["kiln_cpu_split"] = split;
#if KILN_HAVE_TORCH
        std::map<std::string, double> by_threads;
        const Timing torch_t = kiln::bench::fastest_over_blas_threads<Timing>(
            [&] { return time_ms(torch_step(s), warmup, repeats); },
            [](const Timing& t) { return t.min_ms; }, by_threads);
        const double torch_ms = torch_t.min_ms;
        entry["libtorch"] = {{"ms", torch_ms}, {"median_ms", torch_t.median_ms},
                             {"gflops", s.flops() / torch_ms / 1e6},
                             {"ms_by_openblas_threads", by_threads}};
        entry["ratio_kiln_over_libtorch"] = kiln_ms / torch_ms;
#endif
        results.push_back(entry);
      }
    }
  }
  out["results"] = results;
  std::cout << out.dump(2) << "\n";
  return 0;
}
