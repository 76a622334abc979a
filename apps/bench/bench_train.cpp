// kiln_bench_train: end-to-end training-step throughput. Times training steps (forward,
// loss, backward, the recipe's optimiser update) of the shipped models on every available
// device and the same step in libtorch (CPU, same thread count) in the same run: each round
// times libtorch and kiln back to back per model, so both see the same machine load;
// medians over rounds are reported. Workloads (train_workloads.h): the CNNs (lenet5,
// caffe_lenet, alexnet_mnist) on images with SGD and momentum, the BiLSTM tagger and the
// LSTM language model on tokens with Adam. For the text models it also reports where
// kiln's cpu step spends its time (per layer) and what fraction of the machine's sgemm
// peak (OpenBLAS, a large square product, measured here) the step's GEMM work reaches.
// Prints JSON.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "clock.h"
#include "cpu/isa.h"
#include "kiln/gemm.h"
#include "kiln/graph/layers.h"
#include "kiln/philox.h"
#include "kiln/runtime.h"
#include "torch_peer.h"
#include "train_workloads.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

using kiln::Device;
using kiln::bench::Workload;

kiln::bench::Clock g_clock = kiln::bench::Clock::wall;  // --clock

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median milliseconds of `step` after `warmup` untimed runs; `sync` waits for the
// device so asynchronous GPU work is counted.
double median_ms(const std::function<void()>& step, const std::function<void()>& sync,
                 int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) step();
  sync();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = kiln::bench::now_ms(g_clock);
    step();
    sync();
    ms.push_back(kiln::bench::now_ms(g_clock) - t0);
  }
  return median(ms);
}

double kiln_step_ms(const Workload& w, const Device& device, int warmup, int repeats) {
  const std::unique_ptr<kiln::bench::KilnStep> step = w.kiln(device);
  return median_ms([&] { step->run(); }, [&] { kiln::rt::synchronize(device); }, warmup, repeats);
}

// Wall milliseconds per layer and pass, summed over the steps it sees (cpu: synchronous).
class LayerClock final : public kiln::graph::LayerObserver {
 public:
  void begin(const kiln::graph::Layer&, bool) override { start_ = kiln::bench::now_ms(g_clock); }
  void end(const kiln::graph::Layer& layer, bool backward) override {
    ms_[layer.name()][backward] += kiln::bench::now_ms(g_clock) - start_;
  }
  // Per-layer means over `steps` steps that took `total_ms` in all.
  nlohmann::json per_step(int steps, double total_ms) const {
    nlohmann::json layers = nlohmann::json::array();
    double in_layers = 0;
    for (const auto& [name, ms] : ms_) {
      layers.push_back({{"layer", name}, {"forward_ms", ms[0] / steps}, {"backward_ms", ms[1] / steps}});
      in_layers += (ms[0] + ms[1]) / steps;
    }
    return {{"step_ms", total_ms / steps}, {"layers", layers},
            {"optimizer_and_rest_ms", total_ms / steps - in_layers}};
  }

 private:
  double start_ = 0;
  std::map<std::string, std::array<double, 2>> ms_;
};

// Where a cpu step's time goes: per-layer times over `repeats` steps.
nlohmann::json cpu_profile(const Workload& w, int repeats) {
  const std::unique_ptr<kiln::bench::KilnStep> step = w.kiln(Device::cpu());
  step->run();
  LayerClock clock;
  step->graph.set_observer(&clock);
  const double t0 = kiln::bench::now_ms(g_clock);
  for (int i = 0; i < repeats; ++i) step->run();
  const double total_ms = kiln::bench::now_ms(g_clock) - t0;
  step->graph.set_observer(nullptr);
  return clock.per_step(repeats, total_ms);
}

// sgemm on a large square product (2048^3), GFLOP/s, run two ways: OpenBLAS with its own
// threads, and kiln's cpu gemm (OpenBLAS on slices spread over OpenMP threads,
// src/cpu/blas.cpp). The faster is the machine's sgemm peak the text steps are compared with.
nlohmann::json sgemm_peak() {
  constexpr int n = 2048;
  std::vector<float> a(size_t{n} * n), b(size_t{n} * n), c(size_t{n} * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = kiln::philox::uniform(3, 0, i), b[i] = a[i];
  const auto gflops = [&](const std::function<void()>& product) {
    return 2.0 * n * n * n / (median_ms(product, [] {}, 1, 5) * 1e6);
  };
  const double own = gflops([&] {
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(),
                n, 0.0f, c.data(), n);
  });
  const double sliced = gflops([&] {
    kiln::gemm(Device::cpu(), kiln::Transpose::no, kiln::Transpose::no, n, n, n, 1.0f, a.data(),
               n, b.data(), n, 0.0f, c.data(), n);
  });
  return {{"openblas_threads_gflops", own}, {"kiln_gemm_gflops", sliced},
          {"peak_gflops", std::max(own, sliced)}};
}

struct RunOptions {
  int rounds = 3, repeats = 0, warmup = 5, simt_repeats = 2;
  bool time_simt = true;
};

// One model: `rounds` rounds of libtorch then kiln on each device, medians over rounds.
nlohmann::json bench_model(const Workload& w, const RunOptions& o, double sgemm_peak) {
  const int repeats = o.repeats > 0 ? o.repeats : w.repeats;
  std::vector<Device> devices;
  for (const Device& d : kiln::available_devices())
    if (!d.is_simt() || (o.time_simt && w.name == "lenet5")) devices.push_back(d);
  std::vector<double> torch_ms;  // per round, the faster OpenBLAS setting
  std::map<std::string, std::vector<double>> torch_ms_by_blas;
  std::vector<std::vector<double>> kiln_ms(devices.size());
  for (int round = 0; round < o.rounds; ++round) {
    if (w.torch) {
      std::cerr << "kiln_bench_train: " << w.name << " round " << round + 1 << ": libtorch\n";
      std::map<std::string, double> by_threads;
      torch_ms.push_back(kiln::bench::fastest_over_blas_threads(
          [&] { return median_ms(w.torch(), [] {}, o.warmup, repeats); }, by_threads));
      for (const auto& [threads, ms] : by_threads) torch_ms_by_blas[threads].push_back(ms);
    }
    for (size_t i = 0; i < devices.size(); ++i) {
      const Device& d = devices[i];
      if (d.is_simt() && round > 0) continue;  // the emulator: one round
      std::cerr << "kiln_bench_train: " << w.name << " round " << round + 1 << ": kiln on "
                << d.str() << "\n";
      kiln_ms[i].push_back(kiln_step_ms(w, d, d.is_simt() ? 1 : o.warmup,
                                        d.is_simt() ? o.simt_repeats : repeats));
    }
  }
  const std::string per_second = w.unit + "_per_second";
  nlohmann::json out{{"model", w.name}, {"items_per_step", w.items_per_step}, {"unit", w.unit}};
  if (w.gflop > 0) out["gemm_gflop_per_step"] = w.gflop;
  const double peer = torch_ms.empty() ? 0 : median(torch_ms);
  if (peer > 0) {
    out["libtorch"] = {{"ms_per_step", peer}, {"ms_per_round", torch_ms},
                       {"ms_per_round_by_openblas_threads", torch_ms_by_blas},
                       {per_second, w.items_per_step / peer * 1e3}};
  }
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < devices.size(); ++i) {
    const double ms = median(kiln_ms[i]);
    nlohmann::json run{{"device", devices[i].str()}, {"ms_per_step", ms}, {"ms_per_round", kiln_ms[i]},
                       {per_second, w.items_per_step / ms * 1e3}};
    if (peer > 0) {
      std::vector<double> ratios;  // per round: kiln and libtorch under the same load
      for (size_t r = 0; r < kiln_ms[i].size(); ++r) ratios.push_back(kiln_ms[i][r] / torch_ms[r]);
      run["ratio_kiln_over_libtorch"] = median(ratios);
      run["speedup_over_libtorch"] = 1.0 / median(ratios);
      run["ratio_per_round"] = ratios;
    }
    if (devices[i].is_cpu() && w.gflop > 0) {
      run["gemm_gflops"] = w.gflop / (ms * 1e-3);
      run["fraction_of_sgemm_peak"] = w.gflop / (ms * 1e-3) / sgemm_peak;
      run["time_per_step"] = cpu_profile(w, std::max(1, repeats / 2));
    }
    runs.push_back(run);
  }
  out["kiln"] = runs;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln_bench_train: training-step throughput (JSON) of the shipped models on every "
               "device, with libtorch (CPU) as the peer in the same run"};
  std::vector<std::string> all = kiln::bench::cnn_models();
  for (const std::string& m : kiln::bench::text_models()) all.push_back(m);
  std::vector<std::string> models = all;
  int64_t batch = 64;
  kiln::bench::TextShape text = kiln::bench::brown_text_shape();
  RunOptions o;
  bool skip_simt = false;
  app.add_option("--models", models, "models/NAME.yaml to time (each has a libtorch peer)")
      ->check(CLI::IsMember(all))
      ->capture_default_str();
  app.add_option("--batch-size", batch, "images per CNN step")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--tagger-batch", text.tagger_batch, "sentences per bilstm_tagger step")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--tagger-steps", text.tagger_steps, "words per sentence (all full length)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--lm-batch", text.lm_batch, "streams per lstm_lm step")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--bptt", text.lm_bptt, "steps per lstm_lm chunk")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--lm-words", text.lm_words, "lstm_lm vocabulary (default: Brown's)")
      ->check(CLI::Range(3, 1 << 24))->capture_default_str();
  app.add_option("--rounds", o.rounds, "rounds of libtorch-then-kiln per model (median reported)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--repeats", o.repeats, "timed steps per round on cpu/cuda (median taken; "
                 "default: 50 for the CNNs, 10 for the text models)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--simt-repeats", o.simt_repeats, "timed lenet5 steps on the emulator (one round)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--skip-simt", skip_simt, "do not time the emulator (it runs lenet5 only)");
  app.add_option("--clock", g_clock, "wall, or cpu: process CPU time (OMP_NUM_THREADS=1 only)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, kiln::bench::Clock>{{"wall", kiln::bench::Clock::wall},
                                                    {"cpu", kiln::bench::Clock::cpu}}));
  CLI11_PARSE(app, argc, argv);
  o.time_simt = !skip_simt;
  if (g_clock == kiln::bench::Clock::cpu && omp_get_max_threads() != 1) {
    std::cerr << "--clock cpu needs OMP_NUM_THREADS=1 (with more threads it counts spin-waiting)\n";
    return 2;
  }
  if (!std::filesystem::is_directory("models")) {  // model files are relative to the repository
    std::cerr << "kiln_bench_train: models/ not found: run from the repository root\n";
    return 2;
  }

  nlohmann::json out{{"batch_size", batch}, {"rounds", o.rounds}, {"kiln_cpu_threads", omp_get_max_threads()},
                     {"clock", kiln::bench::clock_name(g_clock)},
                     {"kiln_cpu_isa", kiln::cpu::isa_name(kiln::cpu::active_isa())},
                     {"kiln_cpu_isa_reason", kiln::cpu::active_isa_reason()}};
#if KILN_HAVE_TORCH
  torch::set_num_threads(omp_get_max_threads());  // like with like
  out["libtorch"] = {{"version", TORCH_VERSION}, {"threads", torch::get_num_threads()}};
#else
  out["libtorch"] = "built without libtorch: no peer timings";
#endif
  // OpenBLAS's own sgemm peak below runs as many threads as OpenMP, whatever
  // OPENBLAS_NUM_THREADS says; libtorch's peer steps try both settings (torch_peer.h).
  // kiln's own GEMMs run it serially on slices (src/cpu/blas.cpp).
  openblas_set_num_threads(omp_get_max_threads());
  out["openblas_threads_sgemm_peak"] = openblas_get_num_threads();
  out["cpu_sgemm_2048"] = sgemm_peak();
  const double peak = out["cpu_sgemm_2048"]["peak_gflops"];
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& name : models) {
    const auto& cnns = kiln::bench::cnn_models();
    const Workload w = std::find(cnns.begin(), cnns.end(), name) != cnns.end()
                           ? kiln::bench::cnn_workload(name, batch)
                           : kiln::bench::text_workload(name, text);
    results.push_back(bench_model(w, o, peak));
  }
  out["models"] = results;
  std::cout << out.dump(2) << "\n";
  return 0;
}
