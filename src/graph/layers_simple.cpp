// Layers without parameters that only move or combine values: input, activation,
// flatten, add, dropout.
#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/ops/activation.h"
#include "kiln/ops/dropout.h"
#include "kiln/ops/elementwise.h"

namespace kiln::graph {

namespace {

class InputLayer final : public Layer {
 public:
  InputLayer(const std::string& name, Shape sample, bool sequence, std::string feature)
      : Layer(name, {}), sample_(std::move(sample)), sequence_(sequence), feature_(std::move(feature)) {}
  const char* type() const override { return "input"; }
  int input_count() const override { return 0; }
  const Shape& sample_shape() const { return sample_; }
  bool sequence() const { return sequence_; }
  const std::string& feature() const { return feature_; }
  Shape output_shape(const std::vector<Shape>&) const override { return sample_; }
  void forward(const std::vector<const Tensor*>&, Tensor&, const RunContext&) override {}
  void backward(const std::vector<const Tensor*>&, const Tensor&, const Tensor&,
                const std::vector<Tensor*>&, const RunContext&) override {}

 private:
  Shape sample_;
  bool sequence_;
  std::string feature_;
};

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(const std::string& name, const std::string& input, Activation kind)
      : Layer(name, {input}), kind_(kind) {}
  const char* type() const override { return activation_name(kind_); }
  Shape output_shape(const std::vector<Shape>& in) const override { return in[0]; }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    ops::activation_forward(kind_, *x[0], y);
  }
  void backward(const std::vector<const Tensor*>&, const Tensor& y, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    if (dx[0]) ops::activation_backward(kind_, y, dy, *dx[0]);
  }

 private:
  Activation kind_;
};

class FlattenLayer final : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "flatten"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    KILN_CHECK(!in[0].empty(), "flatten needs an input with a batch dimension, got ",
               shape_str(in[0]));
    return {in[0][0], in[0][0] == 0 ? 0 : numel_of(in[0]) / in[0][0]};
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    y.copy_from(*x[0]);
  }
  void backward(const std::vector<const Tensor*>&, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    if (dx[0]) dx[0]->copy_from(dy);
  }
};

class AddLayer final : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "add"; }
  int input_count() const override { return static_cast<int>(inputs().size()); }
  Shape output_shape(const std::vector<Shape>& in) const override {
    KILN_CHECK(in.size() >= 2, "add needs at least two inputs, got ", in.size());
    for (size_t i = 1; i < in.size(); ++i) {
      KILN_CHECK(in[i] == in[0], "add needs inputs of one shape: '", inputs()[0], "' is ",
                 shape_str(in[0]), " but '", inputs()[i], "' is ", shape_str(in[i]));
    }
    return in[0];
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    ops::add(*x[0], *x[1], y);
    for (size_t i = 2; i < x.size(); ++i) ops::add(y, *x[i], y);
  }
  void backward(const std::vector<const Tensor*>&, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    for (Tensor* d : dx) {
      if (d) d->copy_from(dy);
    }
  }
};

class DropoutLayer final : public Layer {
 public:
  DropoutLayer(const std::string& name, const std::string& input, float p)
      : Layer(name, {input}), p_(p), salt_(name_key(name)) {
    KILN_CHECK(p >= 0.0f && p < 1.0f, "dropout probability must be in [0, 1), got ", p);
  }
  const char* type() const override { return "dropout"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in[0]; }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext& ctx) override {
    if (!ctx.training) return y.copy_from(*x[0]);
    ops::dropout_forward(*x[0], y, p_, ctx.seed ^ salt_, offset(ctx));
  }
  void backward(const std::vector<const Tensor*>&, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext& ctx) override {
    if (!dx[0]) return;
    if (!ctx.training) return dx[0]->copy_from(dy);
    ops::dropout_backward(dy, *dx[0], p_, ctx.seed ^ salt_, offset(ctx));
  }

 private:
  // Each step draws its own range of Philox blocks: 2^32 blocks (2^34 elements)
  // per step, far more than any activation holds, so steps never share numbers.
  static uint64_t offset(const RunContext& ctx) { return ctx.step << 32; }
  float p_;
  uint64_t salt_;
};

}  // namespace

LayerPtr make_input(const std::string& name, Shape sample_shape, bool sequence,
                    const std::string& feature) {
  return std::make_unique<InputLayer>(name, std::move(sample_shape), sequence, feature);
}
LayerPtr make_activation(const std::string& name, const std::string& input, Activation kind) {
  return std::make_unique<ActivationLayer>(name, input, kind);
}
LayerPtr make_flatten(const std::string& name, const std::string& input) {
  return std::make_unique<FlattenLayer>(name, std::vector<std::string>{input});
}
LayerPtr make_add(const std::string& name, std::vector<std::string> inputs) {
  return std::make_unique<AddLayer>(name, std::move(inputs));
}
LayerPtr make_dropout(const std::string& name, const std::string& input, float p) {
  return std::make_unique<DropoutLayer>(name, input, p);
}

bool is_input_layer(const Layer& layer) { return dynamic_cast<const InputLayer*>(&layer); }
const Shape& input_sample_shape(const Layer& layer) {
  return dynamic_cast<const InputLayer&>(layer).sample_shape();
}
bool is_sequence_input(const Layer& layer) {
  const auto* input = dynamic_cast<const InputLayer*>(&layer);
  return input && input->sequence();
}
std::string input_feature(const Layer& layer) {
  const auto* input = dynamic_cast<const InputLayer*>(&layer);
  return input ? input->feature() : "";
}

}  // namespace kiln::graph
