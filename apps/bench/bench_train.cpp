// kiln_bench_train: end-to-end training-step throughput. Times LeNet-5 training
// steps (forward, loss, backward, SGD with momentum) at a given batch size on
// every available device, and the same step in libtorch (CPU, same thread count,
// torch::nn modules of the same architecture) in the same run. Prints JSON with
// ms per step, images/s and the kiln/libtorch ratio.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "kiln/device.h"
#include "kiln/graph/model_file.h"
#include "kiln/philox.h"
#include "kiln/runtime.h"
#include "kiln/train/optimizer.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

using kiln::Device;

constexpr float kLearningRate = 0.01f, kMomentum = 0.9f;

// Median milliseconds of `step` after `warmup` untimed runs; `sync` waits for the
// device so asynchronous GPU work is counted.
double median_ms(const std::function<void()>& step, const std::function<void()>& sync,
                 int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) step();
  sync();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
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
// LeNet-5 as in models/lenet5.yaml.
struct LeNet5 : torch::nn::Module {
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(1, 6, 5).padding(2)};
  torch::nn::Conv2d conv2{torch::nn::Conv2dOptions(6, 16, 5)};
  torch::nn::Linear fc1{400, 120}, fc2{120, 84}, fc3{84, 10};
  LeNet5() {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("fc3", fc3);
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2, 2);
    x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2, 2);
    x = x.flatten(1);
    x = torch::relu(fc1->forward(x));
    x = torch::relu(fc2->forward(x));
    return fc3->forward(x);
  }
};

double torch_step_ms(int64_t batch, int warmup, int repeats) {
  LeNet5 net;
  torch::optim::SGD sgd(net.parameters(), torch::optim::SGDOptions(kLearningRate).momentum(kMomentum));
  const torch::Tensor x = torch::from_blob(images(batch).data(), {batch, 1, 28, 28}).clone();
  std::vector<int64_t> y(batch);
  for (int64_t i = 0; i < batch; ++i) y[i] = i % 10;
  const torch::Tensor target = torch::tensor(y);
  return median_ms(
      [&] {
        sgd.zero_grad();
        torch::cross_entropy_loss(net.forward(x), target).backward();
        sgd.step();
      },
      [] {}, warmup, repeats);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln_bench_train: LeNet-5 training-step throughput (JSON) on every device, "
               "with libtorch (CPU) as the peer"};
  std::string model = "models/lenet5.yaml";
  int64_t batch = 64;
  int repeats = 50, warmup = 5, simt_repeats = 2;
  bool skip_simt = false;
  app.add_option("--model", model, "LeNet-5 model file (the peer is LeNet-5)")->check(CLI::ExistingFile);
  app.add_option("--batch-size", batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed steps on cpu/cuda (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--simt-repeats", simt_repeats, "timed steps on the emulator")->check(CLI::PositiveNumber);
  app.add_flag("--skip-simt", skip_simt, "do not time the emulator");
  CLI11_PARSE(app, argc, argv);
  if (!std::filesystem::is_regular_file(model)) {  // the default is relative to the repository
    std::cerr << "kiln_bench_train: model file '" << model
              << "' not found: run from the repository root or pass --model PATH\n";
    return 2;
  }

  nlohmann::json out{{"model", model}, {"batch_size", batch}, {"kiln_cpu_threads", omp_get_max_threads()}};
  double torch_ms = 0;
#if KILN_HAVE_TORCH
  torch::set_num_threads(omp_get_max_threads());  // like with like
  std::cerr << "kiln_bench_train: libtorch\n";
  torch_ms = torch_step_ms(batch, warmup, repeats);
  out["libtorch"] = {{"version", TORCH_VERSION}, {"threads", torch::get_num_threads()},
                     {"ms_per_step", torch_ms}, {"images_per_second", batch / torch_ms * 1e3}};
#else
  out["libtorch"] = "built without libtorch: no peer timings";
#endif
  nlohmann::json runs = nlohmann::json::array();
  for (const Device& d : kiln::available_devices()) {
    if (d.is_simt() && skip_simt) continue;
    std::cerr << "kiln_bench_train: kiln on " << d.str() << "\n";
    const int n = d.is_simt() ? simt_repeats : repeats;
    const double ms = kiln_step_ms(model, d, batch, d.is_simt() ? 1 : warmup, n);
    nlohmann::json run{{"device", d.str()}, {"ms_per_step", ms}, {"repeats", n},
                       {"images_per_second", batch / ms * 1e3}};
    if (torch_ms > 0) run["ratio_kiln_over_libtorch"] = ms / torch_ms;
    runs.push_back(run);
  }
  out["kiln"] = runs;
  std::cout << out.dump(2) << "\n";
  return 0;
}
