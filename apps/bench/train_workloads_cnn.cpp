// The CNN workloads of kiln_bench_train: the shipped LeNet/AlexNet-style models on
// random images, SGD with momentum, and their torch::nn peers.
#include <stdexcept>

#include "kiln/graph/model_file.h"
#include "kiln/philox.h"
#include "kiln/tensor.h"
#include "train_workloads.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace kiln::bench {

namespace {

constexpr float kLearningRate = 0.01f, kMomentum = 0.9f;

std::vector<float> images(int64_t batch) {
  std::vector<float> v(batch * 28 * 28);
  for (size_t i = 0; i < v.size(); ++i) v[i] = philox::uniform(7, 0, i) * 2.0f - 1.0f;
  return v;
}

std::vector<float> labels(int64_t batch) {
  std::vector<float> v(batch);
  for (int64_t i = 0; i < batch; ++i) v[i] = static_cast<float>(i % 10);
  return v;
}

std::unique_ptr<KilnStep> kiln_step(const std::string& name, const Device& device, int64_t batch) {
  graph::Graph graph = graph::load_model("models/" + name + ".yaml", device, {});
  graph.set_batch(batch);
  graph.input("data").copy_from(Tensor::from_vector(images(batch), {batch, 1, 28, 28}, Device::cpu()));
  graph.input("label").copy_from(Tensor::from_vector(labels(batch), {batch}, Device::cpu()));
  train::OptimizerConfig config;
  config.momentum = kMomentum;
  return std::make_unique<KilnStep>(std::move(graph), config, kLearningRate, false);
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

std::function<void()> torch_step(const std::string& name, int64_t batch) {
  struct State {
    nn::Sequential net;
    torch::optim::SGD sgd;
    torch::Tensor x, target;
  };
  nn::Sequential net = torch_model(name);
  auto s = std::make_shared<State>(State{
      net, torch::optim::SGD(net->parameters(), torch::optim::SGDOptions(kLearningRate).momentum(kMomentum)),
      torch::from_blob(images(batch).data(), {batch, 1, 28, 28}).clone(),
      torch::from_blob(labels(batch).data(), {batch}).to(torch::kLong)});
  return [s] {
    s->sgd.zero_grad();
    torch::cross_entropy_loss(s->net->forward(s->x), s->target).backward();
    s->sgd.step();
  };
}
#endif

}  // namespace

std::vector<std::string> cnn_models() { return {"lenet5", "caffe_lenet", "alexnet_mnist"}; }

Workload cnn_workload(const std::string& name, int64_t batch) {
  Workload w;
  w.name = name;
  w.unit = "images";
  w.items_per_step = batch;
  w.kiln = [name, batch](const Device& device) { return kiln_step(name, device, batch); };
#if KILN_HAVE_TORCH
  w.torch = [name, batch] { return torch_step(name, batch); };
#endif
  return w;
}

}  // namespace kiln::bench
