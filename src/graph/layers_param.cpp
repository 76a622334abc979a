// Layers built on the CNN ops: conv2d, pooling, linear, LRN and the softmax
// cross-entropy loss head.
#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/ops/linear.h"
#include "kiln/ops/softmax_cross_entropy.h"

namespace kiln::graph {

namespace {

void expect_rank(const Shape& s, int rank, const char* layer_type, const char* layout) {
  KILN_CHECK(static_cast<int>(s.size()) == rank, layer_type, " expects a rank-", rank, " input ",
             layout, ", got ", shape_str(s));
}

void init_param(Param& p, const Initializer& init, uint64_t seed) {
  p.value.copy_from(Tensor::from_vector(init_values(init, p.value.shape(), p.name, seed),
                                        p.value.shape(), Device::cpu()));
}

class Conv2dLayer final : public Layer {
 public:
  Conv2dLayer(const std::string& name, const std::string& input, const Conv2dConfig& c)
      : Layer(name, {input}), c_(c) {
    KILN_CHECK(c.out_channels > 0, "conv2d needs out_channels > 0, got ", c.out_channels);
    KILN_CHECK(c.kernel_h > 0 && c.kernel_w > 0, "conv2d needs a positive kernel, got ",
               c.kernel_h, "x", c.kernel_w);
    KILN_CHECK(c.params.groups > 0 && c.out_channels % c.params.groups == 0,
               "conv2d: out_channels ", c.out_channels, " is not divisible by groups ",
               c.params.groups);
    if (c.same_padding) {
      KILN_CHECK(c.params.stride_h == 1 && c.params.stride_w == 1,
                 "conv2d: padding 'same' needs stride 1; give explicit padding for stride ",
                 c.params.stride_h, "x", c.params.stride_w);
      Conv2dParams same = Conv2dParams::same(c.kernel_h, c.kernel_w, c.params.dilation_h,
                                             c.params.dilation_w);
      same.groups = c.params.groups;
      c_.params = same;
    }
  }
  const char* type() const override { return "conv2d"; }

  Shape weight_shape(const Shape& x) const {
    return {c_.out_channels, x[1] / c_.params.groups, c_.kernel_h, c_.kernel_w};
  }
  Shape output_shape(const std::vector<Shape>& in) const override {
    expect_rank(in[0], 4, "conv2d", "[N, C, H, W]");
    KILN_CHECK(in[0][1] % c_.params.groups == 0, "conv2d: input channels ", in[0][1],
               " (input ", shape_str(in[0]), ") are not divisible by groups ", c_.params.groups);
    return conv2d_output_shape(in[0], weight_shape(in[0]), c_.params);
  }
  void create_params(const std::vector<Shape>& in, Device device, uint64_t seed) override {
    init_param(add_param("weight", weight_shape(in[0]), device), c_.weight_init, seed);
    if (c_.bias) init_param(add_param("bias", {c_.out_channels}, device), c_.bias_init, seed);
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext& ctx) override {
    ops::conv2d_forward(*x[0], params()[0].value, c_.bias ? &params()[1].value : nullptr, y,
                        c_.params, options(ctx));
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext& ctx) override {
    const ConvOptions o = options(ctx);
    if (dx[0]) ops::conv2d_backward_data(dy, params()[0].value, *dx[0], c_.params, o);
    ops::conv2d_backward_filter(*x[0], dy, params()[0].grad, c_.params, o);
    if (c_.bias) ops::conv2d_backward_bias(dy, params()[1].grad, o);
  }

 private:
  static ConvOptions options(const RunContext& ctx) {
    ConvOptions o;
    o.engine = ctx.engine;
    o.deterministic = ctx.deterministic;
    return o;
  }
  Conv2dConfig c_;
};

class Pool2dLayer final : public Layer {
 public:
  Pool2dLayer(const std::string& name, const std::string& input, PoolMode mode,
              const Pool2dParams& p)
      : Layer(name, {input}), mode_(mode), p_(p) {}
  const char* type() const override {
    return mode_ == PoolMode::max ? "max_pool2d" : "avg_pool2d";
  }
  Shape output_shape(const std::vector<Shape>& in) const override {
    expect_rank(in[0], 4, type(), "[N, C, H, W]");
    return pool2d_output_shape(in[0], p_);
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext& ctx) override {
    ops::pool2d_forward(mode_, *x[0], y, p_, ctx.engine);
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor& y, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext& ctx) override {
    if (dx[0]) ops::pool2d_backward(mode_, *x[0], y, dy, *dx[0], p_, ctx.engine);
  }

 private:
  PoolMode mode_;
  Pool2dParams p_;
};

// [N, ...] viewed as [N, features].
Tensor as_matrix(const Tensor& t) {
  const int64_t n = t.dim(0);
  return t.view({n, n == 0 ? 0 : t.numel() / n});
}

// [..., features] viewed as [rows, features].
Tensor rows_of(const Tensor& t) {
  const int64_t features = t.dim(-1);
  return t.view({features == 0 ? 0 : t.numel() / features, features});
}

class LinearLayer final : public Layer {
 public:
  LinearLayer(const std::string& name, const std::string& input, const LinearConfig& c)
      : Layer(name, {input}), c_(c) {
    KILN_CHECK(c.out_features > 0, "linear needs out_features > 0, got ", c.out_features);
  }
  const char* type() const override { return "linear"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    KILN_CHECK(in[0].size() >= 2, "linear expects an input [N, features...], got ",
               shape_str(in[0]));
    if (!c_.per_step) return {in[0][0], c_.out_features};
    Shape out = in[0];
    out.back() = c_.out_features;
    return out;
  }
  void create_params(const std::vector<Shape>& in, Device device, uint64_t seed) override {
    const int64_t features = c_.per_step ? in[0].back() : numel_of(in[0]) / in[0][0];
    init_param(add_param("weight", {c_.out_features, features}, device), c_.weight_init, seed);
    if (c_.bias) init_param(add_param("bias", {c_.out_features}, device), c_.bias_init, seed);
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    Tensor y_matrix = rows_of(y);
    ops::linear_forward(matrix(*x[0]), params()[0].value, c_.bias ? &params()[1].value : nullptr,
                        y_matrix);
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    Tensor dx_matrix = dx[0] ? matrix(*dx[0]) : Tensor();
    ops::linear_backward(matrix(*x[0]), params()[0].value, rows_of(dy),
                         dx[0] ? &dx_matrix : nullptr, params()[0].grad,
                         c_.bias ? &params()[1].grad : nullptr);
  }

 private:
  Tensor matrix(const Tensor& t) const { return c_.per_step ? rows_of(t) : as_matrix(t); }
  LinearConfig c_;
};

class LrnLayer final : public Layer {
 public:
  LrnLayer(const std::string& name, const std::string& input, const LrnParams& p)
      : Layer(name, {input}), p_(p) {
    KILN_CHECK(p.size > 0, "lrn needs size > 0, got ", p.size);
  }
  const char* type() const override { return "lrn"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    expect_rank(in[0], 4, "lrn", "[N, C, H, W]");
    return in[0];
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    if (scale_.shape() != y.shape() || scale_.device() != y.device()) {
      scale_ = Tensor(y.shape(), y.device());
    }
    ops::lrn_forward(*x[0], y, scale_, p_);
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor& y, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    if (dx[0]) ops::lrn_backward(*x[0], y, scale_, dy, *dx[0], p_);
  }

 private:
  LrnParams p_;
  Tensor scale_;
};

class SoftmaxCrossEntropyLayer final : public Layer {
 public:
  SoftmaxCrossEntropyLayer(const std::string& name, const std::string& logits,
                           const std::string& labels, int ignore_index)
      : Layer(name, {logits, labels}), ignore_index_(ignore_index) {}
  const char* type() const override { return "softmax_cross_entropy"; }
  int input_count() const override { return 2; }
  bool differentiable_input(int i) const override { return i == 0; }
  int ignore_index() const { return ignore_index_; }
  // Logits [..., classes] with labels [...]: [N, C] for images, [T, B, C] per step.
  Shape output_shape(const std::vector<Shape>& in) const override {
    KILN_CHECK(in[0].size() >= 2, "softmax_cross_entropy expects logits [N, classes], got ",
               shape_str(in[0]), " (add a flatten or linear layer before it)");
    const Shape label_shape(in[0].begin(), in[0].end() - 1);
    KILN_CHECK(in[1] == label_shape, "softmax_cross_entropy expects labels ",
               shape_str(label_shape), " for logits ", shape_str(in[0]), ", got labels ",
               shape_str(in[1]), " (declare the label input with shape [])");
    return {1};
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    const Tensor logits = rows_of(*x[0]);
    if (probs_.shape() != logits.shape() || probs_.device() != y.device()) {
      probs_ = Tensor(logits.shape(), y.device());
    }
    ops::softmax_cross_entropy_forward(logits, labels_of(*x[1]), probs_, y, ignore_index_);
  }
  // The loss is the objective: its own gradient is 1, so dy is not read.
  void backward(const std::vector<const Tensor*>& x, const Tensor&, const Tensor&,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    if (!dx[0]) return;
    Tensor dlogits = rows_of(*dx[0]);
    ops::softmax_cross_entropy_backward(probs_, labels_of(*x[1]), dlogits, ignore_index_);
  }

 private:
  static Tensor labels_of(const Tensor& labels) { return labels.view({labels.numel()}); }
  int ignore_index_;
  Tensor probs_;
};

}  // namespace

LayerPtr make_conv2d(const std::string& name, const std::string& input, const Conv2dConfig& c) {
  return std::make_unique<Conv2dLayer>(name, input, c);
}
LayerPtr make_pool2d(const std::string& name, const std::string& input, PoolMode mode,
                     const Pool2dParams& p) {
  return std::make_unique<Pool2dLayer>(name, input, mode, p);
}
LayerPtr make_linear(const std::string& name, const std::string& input, const LinearConfig& c) {
  return std::make_unique<LinearLayer>(name, input, c);
}
LayerPtr make_lrn(const std::string& name, const std::string& input, const LrnParams& p) {
  return std::make_unique<LrnLayer>(name, input, p);
}
LayerPtr make_softmax_cross_entropy(const std::string& name, const std::string& logits,
                                    const std::string& labels, int ignore_index) {
  return std::make_unique<SoftmaxCrossEntropyLayer>(name, logits, labels, ignore_index);
}

int loss_ignore_index(const Layer& loss) {
  return dynamic_cast<const SoftmaxCrossEntropyLayer&>(loss).ignore_index();
}

bool is_loss_layer(const Layer& layer) {
  return dynamic_cast<const SoftmaxCrossEntropyLayer*>(&layer) != nullptr;
}

}  // namespace kiln::graph
