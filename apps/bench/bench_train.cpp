// kiln_bench_train: end-to-end training-step throughput. Times training steps
// (forward, loss, backward, SGD with momentum) of the shipped CNNs (lenet5,
// caffe_lenet, alexnet_mnist) at a given batch size on every available device, and
// the same step in libtorch (CPU, same thread count, torch::nn modules of the same
// architecture) in the same run: each round times libtorch and kiln back to back per
// model, so both see the same machine load; medians over rounds are reported. Prints
// JSON with ms per step, images/s, the kiln/libtorch ratio and the CPU kernel variant.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "clock.h"
#include "cpu/isa.h"
#include "kiln/device.h"
#include "kiln/graph/model_file.h"
#include "kiln/philox.h"
#include "kiln/runtime.h"
#include "kiln/train/optimizer.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

kiln::bench::Clock g_clock = kiln::bench::Clock::wall;  // --clock

using kiln::Device;

constexpr float kLearningRate = 0.01f, kMomentum = 0.9f;

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

std::vector<float> images(int64_t batch) {
  std::vector<float> v(batch * 28 * 28);
  for (size_t i = 0; i < v.size(); ++i) v[i] = kiln::philox::uniform(7, 0, i) * 2.0f - 1.0f;
  return v;
}

std::vector<float> labels(int64_t batch) {
  std::vector<float> v(batch);
  for (int64_t i = 0; i < batch; ++i) v[i] = static_cast<float>(i % 10);
  return v;
}

double kiln_step_ms(const std::string& model, const Device& device, int64_t batch, int warmup,
                    int repeats) {
  kiln::graph::Graph graph = kiln::graph::load_model(model, device, {});
  graph.set_batch(batch);
  graph.input("data").copy_from(kiln::Tensor::from_vector(images(batch), {batch, 1, 28, 28}, Device::cpu()));
  graph.input("label").copy_from(kiln::Tensor::from_vector(labels(batch), {batch}, Device::cpu()));
  kiln::train::OptimizerConfig config;
  config.momentum = kMomentum;
  kiln::train::Optimizer optimizer(config, graph.params(), device);
  uint64_t step = 0;
  return median_ms(
      [&] {
        const kiln::graph::RunContext ctx = graph.context(true, step++);
        graph.forward(ctx);
        graph.backward(ctx);
        optimizer.step(kLearningRate);
      },
      [&] { kiln::rt::synchronize(device); }, warmup, repeats);
}

#if KILN_HAVE_TORCH
namespace nn = torch::nn;

nn::Conv2d conv(int in, int out, int kernel, int padding = 0, int groups = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(padding).groups(groups));
}
nn::MaxPool2d max_pool(int kernel, int stride) {
  return nn::MaxPool2d(nn::MaxPool2dOptions(kernel).stride(stride));
}
nn::LocalResponseNorm lrn() {
  return nn::LocalResponseNorm(nn::LocalResponseNormOptions(5).alpha(1e-4).beta(0.75).k(2));
}

// The shipped models' architectures (models/NAME.yaml) as torch::nn modules.
nn::Sequential torch_model(const std::string& name) {
  if (name == "lenet5") {
    return nn::Sequential(conv(1, 6, 5, 2), nn::ReLU(), max_pool(2, 2), conv(6, 16, 5), nn::ReLU(),
                          max_pool(2, 2), nn::Flatten(), nn::Linear(400, 120), nn::ReLU(),
                          nn::Linear(120, 84), nn::ReLU(), nn::Linear(84, 10));
  }
  if (name == "caffe_lenet") {
    return nn::Sequential(conv(1, 20, 5), max_pool(2, 2), conv(20, 50, 5), max_pool(2, 2),
                          nn::Flatten(), nn::Linear(800, 500), nn::ReLU(), nn::Linear(500, 10));
  }
  if (name == "alexnet_mnist") {
    return nn::Sequential(conv(1, 32, 5, 2), nn::ReLU(), lrn(), max_pool(3, 2),
                          conv(32, 64, 5, 2, 2), nn::ReLU(), lrn(), max_pool(3, 2),
                          conv(64, 96, 3, 1), nn::ReLU(), conv(96, 96, 3, 1, 2), nn::ReLU(),
                          conv(96, 64, 3, 1, 2), nn::ReLU(), max_pool(3, 2), nn::Flatten(),
                          nn::Linear(256, 512), nn::ReLU(), nn::Dropout(0.5), nn::Linear(512, 512),
                          nn::ReLU(), nn::Dropout(0.5), nn::Linear(512, 10));
  }
  throw std::invalid_argument("no libtorch peer for model '" + name + "'");
}

double torch_step_ms(const std::string& name, int64_t batch, int warmup, int repeats) {
  nn::Sequential net = torch_model(name);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(kLearningRate).momentum(kMomentum));
  const torch::Tensor x = torch::from_blob(images(batch).data(), {batch, 1, 28, 28}).clone();
  std::vector<int64_t> y(batch);
  for (int64_t i = 0; i < batch; ++i) y[i] = i % 10;
  const torch::Tensor target = torch::tensor(y);
  return median_ms(
      [&] {
        sgd.zero_grad();
        torch::cross_entropy_loss(net->forward(x), target).backward();
        sgd.step();
      },
      [] {}, warmup, repeats);
}
#endif

// One model: `rounds` rounds of libtorch then kiln on each device, medians over rounds.
nlohmann::json bench_model(const std::string& name, int64_t batch, int rounds, int warmup,
                           int repeats, int simt_repeats, bool time_simt) {
  const std::string file = "models/" + name + ".yaml";
  std::vector<Device> devices;
  for (const Device& d : kiln::available_devices())
    if (!d.is_simt() || time_simt) devices.push_back(d);
  std::vector<double> torch_ms;
  std::vector<std::vector<double>> kiln_ms(devices.size());
  for (int round = 0; round < rounds; ++round) {
#if KILN_HAVE_TORCH
    std::cerr << "kiln_bench_train: " << name << " round " << round + 1 << ": libtorch\n";
    torch_ms.push_back(torch_step_ms(name, batch, warmup, repeats));
#endif
    for (size_t i = 0; i < devices.size(); ++i) {
      const Device& d = devices[i];
      if (d.is_simt() && round > 0) continue;  // the emulator: one round
      std::cerr << "kiln_bench_train: " << name << " round " << round + 1 << ": kiln on "
                << d.str() << "\n";
      kiln_ms[i].push_back(kiln_step_ms(file, d, batch, d.is_simt() ? 1 : warmup,
                                        d.is_simt() ? simt_repeats : repeats));
    }
  }
  nlohmann::json out{{"model", name}};
  const double peer = torch_ms.empty() ? 0 : median(torch_ms);
  if (peer > 0) {
    out["libtorch"] = {{"ms_per_step", peer}, {"ms_per_round", torch_ms},
                       {"images_per_second", batch / peer * 1e3}};
  }
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < devices.size(); ++i) {
    const double ms = median(kiln_ms[i]);
    nlohmann::json run{{"device", devices[i].str()}, {"ms_per_step", ms}, {"ms_per_round", kiln_ms[i]},
                       {"images_per_second", batch / ms * 1e3}};
    if (peer > 0) {
      std::vector<double> ratios;  // per round: kiln and libtorch under the same load
      for (size_t r = 0; r < kiln_ms[i].size(); ++r) ratios.push_back(kiln_ms[i][r] / torch_ms[r]);
      run["ratio_kiln_over_libtorch"] = median(ratios);
      run["ratio_per_round"] = ratios;
    }
    runs.push_back(run);
  }
  out["kiln"] = runs;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln_bench_train: training-step throughput (JSON) of the shipped CNNs on every "
               "device, with libtorch (CPU) as the peer in the same run"};
  std::vector<std::string> models{"lenet5", "caffe_lenet", "alexnet_mnist"};
  int64_t batch = 64;
  int rounds = 3, repeats = 50, warmup = 5, simt_repeats = 2;
  bool skip_simt = false;
  app.add_option("--models", models, "models/NAME.yaml to time (each has a libtorch peer)")
      ->check(CLI::IsMember({"lenet5", "caffe_lenet", "alexnet_mnist"}));
  app.add_option("--batch-size", batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds of libtorch-then-kiln per model (median reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed steps per round on cpu/cuda (median taken)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--simt-repeats", simt_repeats, "timed lenet5 steps on the emulator (one round)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--skip-simt", skip_simt, "do not time the emulator (it runs lenet5 only)");
  app.add_option("--clock", g_clock, "wall, or cpu: process CPU time (OMP_NUM_THREADS=1 only)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, kiln::bench::Clock>{{"wall", kiln::bench::Clock::wall},
                                                    {"cpu", kiln::bench::Clock::cpu}}));
  CLI11_PARSE(app, argc, argv);
  if (g_clock == kiln::bench::Clock::cpu && omp_get_max_threads() != 1) {
    std::cerr << "--clock cpu needs OMP_NUM_THREADS=1 (with more threads it counts spin-waiting)\n";
    return 2;
  }
  if (!std::filesystem::is_directory("models")) {  // model files are relative to the repository
    std::cerr << "kiln_bench_train: models/ not found: run from the repository root\n";
    return 2;
  }

  nlohmann::json out{{"batch_size", batch}, {"rounds", rounds}, {"kiln_cpu_threads", omp_get_max_threads()},
                     {"clock", kiln::bench::clock_name(g_clock)},
                     {"kiln_cpu_isa", kiln::cpu::isa_name(kiln::cpu::active_isa())},
                     {"kiln_cpu_isa_reason", kiln::cpu::active_isa_reason()}};
#if KILN_HAVE_TORCH
  torch::set_num_threads(omp_get_max_threads());  // like with like
  out["libtorch"] = {{"version", TORCH_VERSION}, {"threads", torch::get_num_threads()}};
#else
  out["libtorch"] = "built without libtorch: no peer timings";
#endif
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& name : models) {
    results.push_back(bench_model(name, batch, rounds, warmup, repeats, simt_repeats,
                                  !skip_simt && name == "lenet5"));
  }
  out["models"] = results;
  std::cout << out.dump(2) << "\n";
  return 0;
}
