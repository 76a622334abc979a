// Graph: a directed acyclic graph of named layers. Each layer's output is a value
// named after the layer. build() orders the layers topologically, infers and
// checks every shape (errors name the layer and the shapes) and creates the
// parameters. forward() runs in topological order; backward() in reverse order,
// summing the gradients of a value that feeds several layers.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/graph/layer.h"

namespace kiln::graph {

struct GraphOptions {
  Engine engine = Engine::native;
  // cudnn engine: convolutions use deterministic algorithms only (kiln's own
  // kernels are deterministic anyway).
  bool deterministic = false;
  uint64_t seed = 0;  // parameter initialisation and dropout masks
  // Compute gradients with respect to the input layers too (gradient checks).
  bool input_gradients = false;
};

// Sees each layer's forward and backward begin and end (per-layer timing).
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  virtual void begin(const Layer& layer, bool backward) = 0;
  virtual void end(const Layer& layer, bool backward) = 0;
};

class Graph {
 public:
  Graph(Device device, GraphOptions options = {});
  ~Graph();
  Graph(Graph&&) noexcept;
  Graph& operator=(Graph&&) noexcept;

  // Layers may be added in any order; names must be unique.
  void add(std::unique_ptr<Layer> layer);
  // Orders, checks shapes (with batch 1) and creates parameters. Call once.
  void build();

  // Allocates the inputs, values and gradients for `batch` samples (sequence inputs:
  // `steps` time steps of `batch` sequences, time-major); a no-op when neither changed.
  void set_batch(int64_t batch, int64_t steps = 1);
  int64_t batch() const { return batch_; }
  int64_t steps() const { return steps_; }
  // The tensor an input layer reads; fill it after set_batch().
  Tensor& input(const std::string& name);

  void forward(const RunContext& ctx);
  // Backward from the loss head (d loss = 1).
  void backward(const RunContext& ctx);
  // Backward from any value with a given output gradient.
  void backward_from(const std::string& value, const Tensor& grad, const RunContext& ctx);

  // Throws the first layer's device-side input error (e.g. an embedding id out of
  // range) recorded since the graph was built. Synchronises: call with metric reads.
  void check_device_status() const;

  const Tensor& value(const std::string& name) const;
  // The gradient of a value after backward (inputs only with input_gradients).
  const Tensor& gradient(const std::string& name) const;
  // Shape of a value for the current batch (batch = steps = 1 before set_batch).
  const Shape& shape(const std::string& name) const;

  const std::vector<Layer*>& order() const { return order_; }
  std::vector<std::string> input_names() const;
  // The loss head (its inputs are [logits, labels]); throws when there is none.
  const Layer& loss_layer() const;
  std::vector<Param*> params();
  // Every layer's carried state (Layer::carried_state), named "<layer>.<slot>".
  std::vector<std::pair<std::string, Tensor*>> carried_state();
  Param& param(const std::string& name);
  Device device() const { return device_; }
  const GraphOptions& options() const { return options_; }
  RunContext context(bool training, uint64_t step) const;
  // nullptr to stop observing. The observer must outlive its use.
  void set_observer(LayerObserver* observer) { observer_ = observer; }

 private:
  struct Node;
  Node& node(const std::string& name);
  const Node& node(const std::string& name) const;
  void sort_topologically();
  void infer_shapes(int64_t batch, int64_t steps);
  void mark_gradients();
  void run_backward(size_t start, const RunContext& ctx);

  Device device_;
  GraphOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;  // in insertion order
  std::map<std::string, Node*> by_name_;
  std::vector<Layer*> order_;
  std::vector<Node*> sorted_;
  bool built_ = false;
  int64_t batch_ = 0, steps_ = 0;
  LayerObserver* observer_ = nullptr;
};

}  // namespace kiln::graph
