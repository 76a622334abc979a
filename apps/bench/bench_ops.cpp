// kiln_bench: times the CNN ops on LeNet-5 and AlexNet-style layer shapes on every available device, and the same work done by
// libtorch (CPU) when it was found at build time. Prints JSON: per op and device
// the median time over the repeats (after warm-up runs), GFLOP/s and GB/s
// (napkin-math counts of useful flops and of bytes each op must move), and the
// kiln/libtorch time ratio; also the CPU kernel variant (cpu/isa.h) that ran and a
// square sgemm, the GEMM peak to read the conv passes' GFLOP/s against.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clock.h"
#include "cpu/isa.h"
#include "kiln/device.h"
#include "kiln/ops/activation.h"
#include "kiln/ops/conv2d.h"
#include "kiln/ops/dropout.h"
#include "kiln/ops/linear.h"
#include "kiln/ops/matmul.h"
#include "kiln/ops/lrn.h"
#include "kiln/ops/pool2d.h"
#include "kiln/ops/softmax_cross_entropy.h"
#include "kiln/runtime.h"
#include "kiln/tensor.h"
#include "torch_peer.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

kiln::bench::Clock g_clock = kiln::bench::Clock::wall;  // --clock

using kiln::Device;
using kiln::Shape;
using kiln::Tensor;

// One benchmark case: its work counts and how to run it on a kiln device or in
// libtorch. Each factory allocates the inputs once and returns the timed step.
struct Case {
  Case(std::string name_, std::string shape_, double flops_, double bytes_)
      : name(std::move(name_)), shape(std::move(shape_)), flops(flops_), bytes(bytes_) {}
  std::string name, shape;
  double flops, bytes;
  std::function<std::function<void()>(const Device&, kiln::Engine)> kiln;
  std::function<std::function<void()>()> torch;  // empty without libtorch
  bool has_cudnn = false;                         // also timed with engine cudnn on cuda
  bool on_emulator = true;                        // false: too slow for simt
  // conv2d only: each native version, timed on cpu and cuda besides automatic.
  std::vector<kiln::ConvKernel> conv_kernels;
  std::function<std::function<void()>(const Device&, kiln::ConvKernel)> kiln_conv;
};

Tensor random(const Shape& shape, const Device& device) {
  std::vector<float> v(kiln::numel_of(shape));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  return Tensor::from_vector(v, shape, device);
}

double median_ms(const std::function<void()>& step, const Device* device, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) step();
  if (device) kiln::rt::synchronize(*device);
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = kiln::bench::now_ms(g_clock);
    step();
    if (device) kiln::rt::synchronize(*device);
    ms.push_back(kiln::bench::now_ms(g_clock) - t0);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::string shape_text(const Shape& s) { return kiln::shape_str(s); }

Case pool_case(const std::string& name, kiln::PoolMode mode, Shape x_shape, int k, int s, bool backward) {
  kiln::Pool2dParams p;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = s;
  const Shape y_shape = kiln::pool2d_output_shape(x_shape, p);
  const double in = static_cast<double>(kiln::numel_of(x_shape)), out = static_cast<double>(kiln::numel_of(y_shape));
  Case c{name, shape_text(x_shape) + " k" + std::to_string(k) + " s" + std::to_string(s),
         out * k * k, (backward ? 2 * in + 2 * out : in + out) * 4};
  c.has_cudnn = true;
  c.kiln = [=](const Device& d, kiln::Engine e) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random(x_shape, d));
    auto y = std::make_shared<Tensor>(y_shape, d);
    auto dy = std::make_shared<Tensor>(random(y_shape, d));
    auto dx = std::make_shared<Tensor>(x_shape, d);
    kiln::ops::pool2d_forward(mode, *x, *y, p, e);
    if (backward) return [=] { kiln::ops::pool2d_backward(mode, *x, *y, *dy, *dx, p, e); };
    return [=] { kiln::ops::pool2d_forward(mode, *x, *y, p, e); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    auto x = torch::rand(x_shape).mul_(2).sub_(1).requires_grad_(backward);
    auto pool = [=](const torch::Tensor& t) {
      return mode == kiln::PoolMode::max ? torch::max_pool2d(t, {k, k}, {s, s}) : torch::avg_pool2d(t, {k, k}, {s, s});
    };
    if (!backward) return [=] { torch::NoGradGuard no_grad; pool(x); };
    auto y = pool(x);
    auto dy = torch::rand_like(y);
    return [=]() mutable { y.backward(dy, /*retain_graph=*/true); };
  };
#endif
  return c;
}

Case linear_case(int batch, int in, int out, bool backward) {
  const double b = batch, i = in, o = out;
  Case c{backward ? "linear_backward" : "linear_forward",
         std::to_string(batch) + "x" + std::to_string(in) + "->" + std::to_string(out),
         (backward ? 4 : 2) * b * i * o, (b * i + o * i + b * o + o) * 4 * (backward ? 2 : 1)};
  c.kiln = [=](const Device& d, kiln::Engine) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random({batch, in}, d));
    auto w = std::make_shared<Tensor>(random({out, in}, d));
    auto bias = std::make_shared<Tensor>(random({out}, d));
    auto y = std::make_shared<Tensor>(Shape{batch, out}, d);
    auto dx = std::make_shared<Tensor>(Shape{batch, in}, d);
    auto dw = std::make_shared<Tensor>(Shape{out, in}, d);
    auto db = std::make_shared<Tensor>(Shape{out}, d);
    if (backward) return [=] { kiln::ops::linear_backward(*x, *w, *y, dx.get(), *dw, db.get()); };
    return [=] { kiln::ops::linear_forward(*x, *w, bias.get(), *y); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    auto x = torch::rand({batch, in}).requires_grad_(backward);
    auto w = torch::rand({out, in}).requires_grad_(backward);
    auto bias = torch::rand({out}).requires_grad_(backward);
    if (!backward) return [=] { torch::NoGradGuard no_grad; torch::linear(x, w, bias); };
    auto y = torch::linear(x, w, bias);
    auto dy = torch::rand_like(y);
    return [=]() mutable { y.backward(dy, /*retain_graph=*/true); };
  };
#endif
  return c;
}

// Square sgemm (OpenBLAS on cpu): the machine's GEMM peak, next to which the conv
// passes' GFLOP/s are read (docs/BENCHMARKS.md).
Case sgemm_case(int n) {
  const double size = n;
  Case c{"sgemm", std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(n),
         2 * size * size * size, 3 * size * size * 4};
  c.on_emulator = false;
  c.kiln = [=](const Device& d, kiln::Engine) -> std::function<void()> {
    auto a = std::make_shared<Tensor>(random({n, n}, d));
    auto b = std::make_shared<Tensor>(random({n, n}, d));
    auto out = std::make_shared<Tensor>(Shape{n, n}, d);
    return [=] { kiln::ops::matmul(*a, *b, *out); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    auto a = torch::rand({n, n}), b = torch::rand({n, n});
    return [=] { torch::NoGradGuard no_grad; torch::mm(a, b); };
  };
#endif
  return c;
}

Case xent_case(int rows, int classes, bool backward) {
  const double n = static_cast<double>(rows) * classes;
  Case c{backward ? "softmax_xent_backward" : "softmax_xent_forward",
         std::to_string(rows) + "x" + std::to_string(classes), (backward ? 2 : 5) * n,
         (2 * n + rows) * 4};
  c.kiln = [=](const Device& d, kiln::Engine) -> std::function<void()> {
    auto logits = std::make_shared<Tensor>(random({rows, classes}, d));
    std::vector<float> labels(rows);
    for (int r = 0; r < rows; ++r) labels[r] = static_cast<float>(r % classes);
    auto lab = std::make_shared<Tensor>(Tensor::from_vector(labels, {rows}, d));
    auto probs = std::make_shared<Tensor>(Shape{rows, classes}, d);
    auto loss = std::make_shared<Tensor>(Shape{1}, d);
    auto grad = std::make_shared<Tensor>(Shape{rows, classes}, d);
    kiln::ops::softmax_cross_entropy_forward(*logits, *lab, *probs, *loss);
    if (backward) return [=] { kiln::ops::softmax_cross_entropy_backward(*probs, *lab, *grad); };
    return [=] { kiln::ops::softmax_cross_entropy_forward(*logits, *lab, *probs, *loss); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    auto logits = torch::rand({rows, classes}).requires_grad_(backward);
    auto labels = torch::arange(rows, torch::kLong).remainder(classes);
    if (!backward) return [=] { torch::NoGradGuard no_grad; torch::cross_entropy_loss(logits, labels); };
    auto loss = torch::cross_entropy_loss(logits, labels);
    return [=]() mutable { loss.backward({}, /*retain_graph=*/true); };
  };
#endif
  return c;
}

Case lrn_case(Shape shape, bool backward) {
  const double n = static_cast<double>(kiln::numel_of(shape));
  const kiln::LrnParams p;
  Case c{backward ? "lrn_backward" : "lrn_forward", shape_text(shape),
         (backward ? 4.0 * p.size + 8 : 2.0 * p.size + 6) * n, (backward ? 5 : 3) * n * 4};
  c.kiln = [=](const Device& d, kiln::Engine) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random(shape, d));
    auto y = std::make_shared<Tensor>(shape, d);
    auto scale = std::make_shared<Tensor>(shape, d);
    auto dy = std::make_shared<Tensor>(random(shape, d));
    auto dx = std::make_shared<Tensor>(shape, d);
    kiln::ops::lrn_forward(*x, *y, *scale, p);
    if (backward) return [=] { kiln::ops::lrn_backward(*x, *y, *scale, *dy, *dx, p); };
    return [=] { kiln::ops::lrn_forward(*x, *y, *scale, p); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    namespace F = torch::nn::functional;
    const auto opts = F::LocalResponseNormFuncOptions(p.size).alpha(p.alpha).beta(p.beta).k(p.k);
    auto x = torch::rand(shape).requires_grad_(backward);
    if (!backward) return [=] { torch::NoGradGuard no_grad; F::local_response_norm(x, opts); };
    auto y = F::local_response_norm(x, opts);
    auto dy = torch::rand_like(y);
    return [=]() mutable { y.backward(dy, /*retain_graph=*/true); };
  };
#endif
  return c;
}

Case dropout_case(Shape shape) {
  const double n = static_cast<double>(kiln::numel_of(shape));
  Case c{"dropout_forward", shape_text(shape) + " p0.5", n, 2 * n * 4};
  c.kiln = [=](const Device& d, kiln::Engine) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random(shape, d));
    auto y = std::make_shared<Tensor>(shape, d);
    return [=] { kiln::ops::dropout_forward(*x, *y, 0.5f, 1234, 0); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    auto x = torch::rand(shape);
    return [=] { torch::NoGradGuard no_grad; torch::dropout(x, 0.5, /*train=*/true); };
  };
#endif
  return c;
}

enum class ConvPass { forward, backward_data, backward_filter };

const char* conv_kernel_name(kiln::ConvKernel k) {
  switch (k) {
    case kiln::ConvKernel::direct: return "direct";
    case kiln::ConvKernel::implicit_gemm: return "implicit_gemm";
    case kiln::ConvKernel::automatic: break;
  }
  return "automatic";
}

// One conv2d pass of a named layer. FLOPs 2*N*K*P*Q*(C/G)*R*S for every pass.
Case conv_case(const std::string& layer, Shape x_shape, Shape w_shape, int pad, int groups,
               ConvPass pass) {
  kiln::Conv2dParams p;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
  p.groups = groups;
  const kiln::Conv2dGeometry g = kiln::conv2d_geometry(x_shape, w_shape, p);
  const Shape y_shape{g.n, g.k, g.p, g.q};
  const double flops = 2.0 * g.n * g.k * g.p * g.q * (g.c / groups) * g.r * g.s;
  const double bytes = 4.0 * (kiln::numel_of(x_shape) + kiln::numel_of(w_shape) + kiln::numel_of(y_shape));
  const char* pass_name = pass == ConvPass::forward ? "conv2d_forward"
                          : pass == ConvPass::backward_data ? "conv2d_backward_data"
                                                            : "conv2d_backward_filter";
  Case c{pass_name, layer + " x" + shape_text(x_shape) + " w" + shape_text(w_shape) + " pad" +
                        std::to_string(pad) + " g" + std::to_string(groups),
         flops, bytes};
  c.has_cudnn = true;
  c.conv_kernels = {kiln::ConvKernel::direct, kiln::ConvKernel::implicit_gemm};
  c.kiln_conv = [=](const Device& d, kiln::ConvKernel kernel) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random(x_shape, d));
    auto w = std::make_shared<Tensor>(random(w_shape, d));
    auto y = std::make_shared<Tensor>(random(y_shape, d));
    auto dx = std::make_shared<Tensor>(x_shape, d);
    auto dw = std::make_shared<Tensor>(w_shape, d);
    return [=] {
      kiln::ConvOptions o;
      o.kernel = kernel;
      if (pass == ConvPass::forward) kiln::ops::conv2d_forward(*x, *w, nullptr, *y, p, o);
      if (pass == ConvPass::backward_data) kiln::ops::conv2d_backward_data(*y, *w, *dx, p, o);
      if (pass == ConvPass::backward_filter) kiln::ops::conv2d_backward_filter(*x, *y, *dw, p, o);
    };
  };
  c.kiln = [=](const Device& d, kiln::Engine e) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random(x_shape, d));
    auto w = std::make_shared<Tensor>(random(w_shape, d));
    auto y = std::make_shared<Tensor>(random(y_shape, d));
    auto dx = std::make_shared<Tensor>(x_shape, d);
    auto dw = std::make_shared<Tensor>(w_shape, d);
    kiln::ConvOptions o;
    o.engine = e;
    if (pass == ConvPass::forward) return [=] { kiln::ops::conv2d_forward(*x, *w, nullptr, *y, p, o); };
    if (pass == ConvPass::backward_data) return [=] { kiln::ops::conv2d_backward_data(*y, *w, *dx, p, o); };
    return [=] { kiln::ops::conv2d_backward_filter(*x, *y, *dw, p, o); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    // Only the input whose gradient this pass computes requires grad, so autograd's
    // convolution backward computes just that one.
    auto x = torch::rand(x_shape).requires_grad_(pass == ConvPass::backward_data);
    auto w = torch::rand(w_shape).requires_grad_(pass == ConvPass::backward_filter);
    const auto conv = [=] { return torch::conv2d(x, w, {}, 1, pad, 1, groups); };
    if (pass == ConvPass::forward) return [=] { torch::NoGradGuard no_grad; conv(); };
    auto y = conv();
    auto dy = torch::rand_like(y);
    return [=]() mutable { y.backward(dy, /*retain_graph=*/true); };
  };
#endif
  return c;
}

Case relu_case(Shape shape, bool backward) {
  const double n = static_cast<double>(kiln::numel_of(shape));
  Case c{backward ? "relu_backward" : "relu_forward", shape_text(shape), n,
         (backward ? 3 : 2) * n * 4};
  c.kiln = [=](const Device& d, kiln::Engine) -> std::function<void()> {
    auto x = std::make_shared<Tensor>(random(shape, d));
    auto y = std::make_shared<Tensor>(shape, d);
    auto dx = std::make_shared<Tensor>(shape, d);
    kiln::ops::activation_forward(kiln::Activation::relu, *x, *y);
    if (backward) return [=] { kiln::ops::activation_backward(kiln::Activation::relu, *y, *x, *dx); };
    return [=] { kiln::ops::activation_forward(kiln::Activation::relu, *x, *y); };
  };
#if KILN_HAVE_TORCH
  c.torch = [=]() -> std::function<void()> {
    auto x = torch::rand(shape).sub_(0.5).requires_grad_(backward);
    if (!backward) return [=] { torch::NoGradGuard no_grad; torch::relu(x); };
    auto y = torch::relu(x);
    auto dy = torch::rand_like(y);
    return [=]() mutable { y.backward(dy, /*retain_graph=*/true); };
  };
#endif
  return c;
}

std::vector<Case> cases(int alexnet_batch) {
  std::vector<Case> all;
  for (int n : {256, 1024}) all.push_back(sgemm_case(n));
  const int64_t a = alexnet_batch;
  struct ConvLayer {
    std::string name;
    Shape x, w;
    int pad, groups;
  };
  // docs/KERNELS.md, "Layer shapes to benchmark".
  const std::vector<ConvLayer> conv_layers{
      {"lenet5.conv1", {64, 1, 28, 28}, {6, 1, 5, 5}, 2, 1},
      {"lenet5.conv2", {64, 6, 14, 14}, {16, 6, 5, 5}, 0, 1},
      {"alexnet.conv1", {a, 1, 28, 28}, {64, 1, 3, 3}, 1, 1},
      {"alexnet.conv2", {a, 64, 13, 13}, {128, 32, 3, 3}, 1, 2},
      {"alexnet.conv3", {a, 128, 6, 6}, {192, 128, 3, 3}, 1, 1},
      {"alexnet.conv4", {a, 192, 6, 6}, {192, 96, 3, 3}, 1, 2},
      {"alexnet.conv5", {a, 192, 6, 6}, {128, 96, 3, 3}, 1, 2},
  };
  for (const ConvLayer& l : conv_layers) {
    for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
      all.push_back(conv_case(l.name, l.x, l.w, l.pad, l.groups, pass));
    }
  }
  for (bool bwd : {false, true}) all.push_back(relu_case({64, 6, 28, 28}, bwd));
  for (bool bwd : {false, true}) {
    const std::string dir = bwd ? "_backward" : "_forward";
    all.push_back(pool_case("max_pool2d" + dir, kiln::PoolMode::max, {64, 6, 28, 28}, 2, 2, bwd));
    all.push_back(pool_case("avg_pool2d" + dir, kiln::PoolMode::avg, {64, 6, 28, 28}, 2, 2, bwd));
    all.push_back(pool_case("max_pool2d" + dir, kiln::PoolMode::max, {alexnet_batch, 96, 55, 55}, 3, 2, bwd));
    for (auto [in, out] : {std::pair{400, 120}, std::pair{120, 84}, std::pair{84, 10}}) {
      all.push_back(linear_case(64, in, out, bwd));
    }
    all.push_back(xent_case(64, 10, bwd));
    all.push_back(lrn_case({alexnet_batch, 96, 55, 55}, bwd));
  }
  all.push_back(dropout_case({64, 4096}));
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln_bench: CNN op timings (JSON) on every device, with libtorch (CPU) as the peer"};
  int repeats = 50, warmup = 3, simt_repeats = 1, alexnet_batch = 16;
  bool skip_simt = false;
  app.add_option("--repeats", repeats, "timed runs per op on cpu/cuda (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed runs before timing")->check(CLI::NonNegativeNumber);
  app.add_option("--simt-repeats", simt_repeats, "timed runs per op on the emulator")->check(CLI::PositiveNumber);
  app.add_option("--alexnet-batch", alexnet_batch, "batch of the AlexNet-style shapes")->check(CLI::PositiveNumber);
  app.add_flag("--skip-simt", skip_simt, "do not time the emulator (slow: ~1 us per thread)");
  std::string only;
  app.add_option("--only", only, "time only ops whose name contains this text");
  app.add_option("--clock", g_clock, "wall, or cpu: process CPU time (OMP_NUM_THREADS=1 only)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, kiln::bench::Clock>{{"wall", kiln::bench::Clock::wall},
                                                    {"cpu", kiln::bench::Clock::cpu}}));
  CLI11_PARSE(app, argc, argv);
  if (g_clock == kiln::bench::Clock::cpu && omp_get_max_threads() != 1) {
    std::cerr << "--clock cpu needs OMP_NUM_THREADS=1 (with more threads it counts spin-waiting)\n";
    return 2;
  }
#if KILN_HAVE_TORCH
  // Same thread count as kiln's OpenMP loops, so the ratio compares like with like.
  torch::set_num_threads(omp_get_max_threads());
#endif

  std::vector<Device> devices;
  for (const Device& d : kiln::available_devices()) {
    if (!(d.is_simt() && skip_simt)) devices.push_back(d);
  }
  nlohmann::json out;
  out["kiln_cpu_threads"] = omp_get_max_threads();
  out["clock"] = kiln::bench::clock_name(g_clock);
  out["kiln_cpu_isa"] = kiln::cpu::isa_name(kiln::cpu::active_isa());
  out["kiln_cpu_isa_reason"] = kiln::cpu::active_isa_reason();
#if KILN_HAVE_TORCH
  out["peer"] = {{"name", "libtorch"}, {"version", TORCH_VERSION}, {"device", "cpu"}, {"threads", torch::get_num_threads()}};
#else
  out["peer"] = {{"name", nullptr}, {"note", "built without libtorch: no peer timings"}};
#endif
  std::string why;
  if (kiln::cuda_device_count(&why) == 0) out["cuda"] = "not available: " + why;
  nlohmann::json results = nlohmann::json::array();
  for (const Case& c : cases(alexnet_batch)) {
    if (!only.empty() && c.name.find(only) == std::string::npos) continue;
    std::cerr << "kiln_bench: " << c.name << " " << c.shape << "\n";
    nlohmann::json entry{{"op", c.name}, {"shape", c.shape}, {"flops", c.flops}, {"bytes", c.bytes}};
    double torch_ms = 0;
#if KILN_HAVE_TORCH
    std::map<std::string, double> by_threads;
    torch_ms = kiln::bench::fastest_over_blas_threads(
        [&] { return median_ms(c.torch(), nullptr, warmup, repeats); }, by_threads);
    entry["libtorch"] = {{"ms", torch_ms}, {"gflops", c.flops / torch_ms / 1e6},
                         {"gbps", c.bytes / torch_ms / 1e6}, {"ms_by_openblas_threads", by_threads}};
#endif
    nlohmann::json runs = nlohmann::json::array();
    for (const Device& d : devices) {
      if (d.is_simt() && !c.on_emulator) continue;
      std::vector<kiln::Engine> engines{kiln::Engine::native};
      if (d.is_cuda() && c.has_cudnn) engines.push_back(kiln::Engine::cudnn);
      for (kiln::Engine e : engines) {
        const int n = d.is_simt() ? simt_repeats : repeats;
        const double ms = median_ms(c.kiln(d, e), &d, d.is_simt() ? 0 : warmup, n);
        nlohmann::json run{{"device", d.str()}, {"engine", kiln::engine_name(e)}, {"ms", ms},
                           {"repeats", n}, {"gflops", c.flops / ms / 1e6},
                           {"gbps", c.bytes / ms / 1e6}};
        if (torch_ms > 0) run["ratio_kiln_over_libtorch"] = ms / torch_ms;
        runs.push_back(run);
      }
      if (d.is_simt() || !c.kiln_conv) continue;
      for (kiln::ConvKernel k : c.conv_kernels) {
        const double ms = median_ms(c.kiln_conv(d, k), &d, warmup, repeats);
        nlohmann::json run{{"device", d.str()}, {"engine", "native"}, {"kernel", conv_kernel_name(k)},
                           {"ms", ms}, {"repeats", repeats}, {"gflops", c.flops / ms / 1e6},
                           {"gbps", c.bytes / ms / 1e6}};
        if (torch_ms > 0) run["ratio_kiln_over_libtorch"] = ms / torch_ms;
        runs.push_back(run);
      }
    }
    entry["kiln"] = runs;
    results.push_back(entry);
  }
  out["results"] = results;
  std::cout << out.dump(2) << "\n";
  return 0;
}
