// Layer: one named node of a model graph. A layer reads the values of its inputs
// (other layers' outputs, by name), writes one output, and in backward turns the
// gradient of its output into gradients of its inputs and of its parameters.
// Layers call ops:: only; they never contain backend code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/ops/engine.h"
#include "kiln/tensor.h"

namespace kiln::graph {

// A trainable tensor and its gradient, named for checkpoints PyTorch-style
// ("conv1.weight", "conv1.bias").
struct Param {
  std::string name;
  Tensor value;
  Tensor grad;
};

// What a forward/backward pass needs besides tensors.
struct RunContext {
  bool training = true;  // dropout drops only in training
  uint64_t step = 0;     // makes each step's dropout mask different
  uint64_t seed = 0;     // the run's seed
  Engine engine = Engine::native;
  bool deterministic = false;  // GraphOptions::deterministic
  // Recurrent layers start from the final state of their previous forward (truncated
  // BPTT across chunks of one stream; no gradient flows back into that state). False:
  // they start from zeros.
  bool carry_state = false;
};

class Layer {
 public:
  Layer(std::string name, std::vector<std::string> inputs)
      : name_(std::move(name)), inputs_(std::move(inputs)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& inputs() const { return inputs_; }
  virtual const char* type() const = 0;
  // How many inputs the layer takes.
  virtual int input_count() const { return 1; }
  // False for inputs that never get a gradient (a loss head's labels).
  virtual bool differentiable_input(int) const { return true; }

  // The output shape for these input shapes (batch dimension first). Throws a
  // kiln::Error (without the layer name: the graph adds it) when they do not fit.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;
  // Creates the parameters for these input shapes on `device`, initialised from
  // `seed`. Called once, after shapes are known.
  virtual void create_params(const std::vector<Shape>& inputs, Device device, uint64_t seed);

  virtual void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext& ctx) = 0;
  // dx[i] is null when input i needs no gradient. Input and parameter gradients
  // are overwritten (the graph sums where a value fans out).
  virtual void backward(const std::vector<const Tensor*>& x, const Tensor& y, const Tensor& dy,
                        const std::vector<Tensor*>& dx, const RunContext& ctx) = 0;

  // Throws a kiln::Error when the layer's kernels recorded bad input on the device
  // (e.g. an embedding id out of range). Synchronises: call it when metrics are read.
  virtual void check_device_status() const {}

  // State the layer carries from one forward to the next when ctx.carry_state (a
  // recurrent layer's final h and c), by slot name; a tensor may be undefined before the
  // first forward. Saved with checkpoints taken mid-epoch so that a resumed run carries
  // the same state on.
  virtual std::vector<std::pair<std::string, Tensor*>> carried_state() { return {}; }

  std::vector<Param>& params() { return params_; }
  const std::vector<Param>& params() const { return params_; }

 protected:
  Param& add_param(const std::string& suffix, Shape shape, Device device);

 private:
  std::string name_;
  std::vector<std::string> inputs_;
  std::vector<Param> params_;
};

}  // namespace kiln::graph
