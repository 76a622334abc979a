// Layers of sequence models: embedding, the recurrent layers (lstm, gru, rnn) and
// many-to-one pooling. Values are time-major: ids [T, B], features [T, B, F].
#include <algorithm>
#include <cmath>
#include <memory>

#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/ops/embedding.h"
#include "kiln/ops/rnn.h"
#include "kiln/ops/sequence_pool.h"

namespace kiln::graph {

namespace {

class EmbeddingLayer final : public Layer {
 public:
  EmbeddingLayer(const std::string& name, const std::string& input, const EmbeddingConfig& c)
      : Layer(name, {input}), c_(c) {
    KILN_CHECK(c.num_embeddings > 0 && c.embedding_dim > 0,
               "embedding needs num_embeddings and embedding_dim > 0, got ", c.num_embeddings,
               " and ", c.embedding_dim);
    KILN_CHECK(c.padding_idx == ops::kNoPaddingIdx ||
                   (c.padding_idx >= 0 && c.padding_idx < c.num_embeddings),
               "embedding: padding_idx ", c.padding_idx, " is not an id in 0..",
               c.num_embeddings - 1, " (or -1 for none)");
  }
  const char* type() const override { return "embedding"; }
  bool differentiable_input(int) const override { return false; }  // ids
  Shape output_shape(const std::vector<Shape>& in) const override {
    Shape out = in[0];
    out.push_back(c_.embedding_dim);
    return out;
  }
  void create_params(const std::vector<Shape>&, Device device, uint64_t seed) override {
    Param& table = add_param("weight", {c_.num_embeddings, c_.embedding_dim}, device);
    std::vector<float> values = init_values(c_.weight_init, table.value.shape(), table.name, seed);
    // As PyTorch: the padding row starts at zero (and never gets a gradient).
    if (c_.padding_idx != ops::kNoPaddingIdx) {
      std::fill_n(values.begin() + static_cast<int64_t>(c_.padding_idx) * c_.embedding_dim,
                  c_.embedding_dim, 0.0f);
    }
    table.value.copy_from(Tensor::from_vector(values, table.value.shape(), Device::cpu()));
    status_ = std::make_unique<ops::EmbeddingStatus>(device);
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    ops::embedding_forward(*x[0], params()[0].value, y, status_.get());
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>&, const RunContext&) override {
    ops::embedding_backward(*x[0], dy, params()[0].grad, c_.padding_idx, status_.get());
  }
  void check_device_status() const override { status_->check(name().c_str()); }

 private:
  EmbeddingConfig c_;
  std::unique_ptr<ops::EmbeddingStatus> status_;
};

class RnnLayer final : public Layer {
 public:
  RnnLayer(const std::string& name, std::vector<std::string> inputs, const RnnLayerConfig& c)
      : Layer(name, std::move(inputs)), c_(c), salt_(name_key(name)) {
    const RnnConfig& r = c.rnn;
    KILN_CHECK(r.hidden_size > 0 && r.num_layers > 0, type(),
               " needs hidden_size and num_layers > 0, got ", r.hidden_size, " and ",
               r.num_layers);
    KILN_CHECK(!r.peepholes || r.mode == RnnMode::lstm, "peepholes exist for lstm only, not ",
               type());
    KILN_CHECK(r.dropout >= 0.0f && r.dropout < 1.0f, type(),
               ": dropout must be in [0, 1), got ", r.dropout);
    KILN_CHECK(this->inputs().size() == 1 || this->inputs().size() == 2, type(),
               " takes inputs [x] or [x, lengths], got ", this->inputs().size());
  }
  const char* type() const override {
    return c_.rnn.mode == RnnMode::lstm ? "lstm" : c_.rnn.mode == RnnMode::gru ? "gru" : "rnn";
  }
  int input_count() const override { return static_cast<int>(inputs().size()); }
  bool differentiable_input(int i) const override { return i == 0; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    KILN_CHECK(in[0].size() == 3, type(), " expects a sequence batch [T, B, features], got ",
               shape_str(in[0]), " (declare the input with sequence: true)");
    if (in.size() == 2) {
      KILN_CHECK(in[1] == Shape({in[0][1]}), type(), ": lengths are ", shape_str(in[1]),
                 " but the sequence batch ", shape_str(in[0]), " needs [", in[0][1],
                 "] (declare the lengths input with shape [])");
    }
    return {in[0][0], in[0][1], static_cast<int64_t>(c_.rnn.directions()) * c_.rnn.hidden_size};
  }
  void create_params(const std::vector<Shape>& in, Device device, uint64_t seed) override {
    c_.rnn.input_size = static_cast<int>(in[0][2]);
    const Initializer init = c_.weight_init.value_or(
        Initializer::uniform(1.0f / std::sqrt(static_cast<float>(c_.rnn.hidden_size))));
    for (const RnnParamSpec& spec : rnn_param_specs(c_.rnn)) {
      Param& p = add_param(spec.name, spec.shape, device);
      std::vector<float> values = init_values(init, spec.shape, p.name, seed);
      set_forget_bias(spec.name, values);
      p.value.copy_from(Tensor::from_vector(values, spec.shape, Device::cpu()));
    }
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext& ctx) override {
    const Tensor* lengths = x.size() == 2 ? x[1] : nullptr;
    const bool carry = ctx.carry_state && hn_.defined() && hn_.dim(1) == x[0]->dim(1);
    if (carry) {
      h0_ = hn_.clone();
      if (cn_.defined()) c0_ = cn_.clone();
    } else {
      h0_ = Tensor();
      c0_ = Tensor();
    }
    allocate_state(x[0]->dim(1), y.device());
    ops::rnn_forward(c_.rnn, values(), *x[0], lengths, h0(), c0(), y, &hn_,
                     is_lstm() ? &cn_ : nullptr, ctx.training ? &reserve_ : nullptr,
                     dropout(ctx), ctx.engine);
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor& y, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext& ctx) override {
    std::vector<Tensor*> grads;
    for (Param& p : params()) grads.push_back(&p.grad);
    // Truncated BPTT: no gradient flows into the carried initial state.
    ops::rnn_backward(c_.rnn, values(), *x[0], x.size() == 2 ? x[1] : nullptr, h0(), c0(), y, dy,
                      nullptr, nullptr, reserve_, dx[0], nullptr, nullptr, grads, dropout(ctx),
                      ctx.engine);
  }
  std::vector<std::pair<std::string, Tensor*>> carried_state() override {
    if (!is_lstm()) return {{"h_n", &hn_}};
    return {{"h_n", &hn_}, {"c_n", &cn_}};
  }

 private:
  bool is_lstm() const { return c_.rnn.mode == RnnMode::lstm; }
  const Tensor* h0() const { return h0_.defined() ? &h0_ : nullptr; }
  const Tensor* c0() const { return c0_.defined() ? &c0_ : nullptr; }
  std::vector<const Tensor*> values() {
    std::vector<const Tensor*> v;
    for (Param& p : params()) v.push_back(&p.value);
    return v;
  }
  void allocate_state(int64_t batch, const Device& device) {
    const Shape shape{static_cast<int64_t>(c_.rnn.num_layers) * c_.rnn.directions(), batch,
                      c_.rnn.hidden_size};
    if (hn_.shape() != shape || hn_.device() != device) {
      hn_ = Tensor(shape, device);
      cn_ = is_lstm() ? Tensor(shape, device) : Tensor();
    }
  }
  // A different Philox range per step and layer, as the dropout layer draws.
  RnnDropout dropout(const RunContext& ctx) const {
    return RnnDropout{ctx.training ? ctx.seed ^ salt_ : 0, ctx.step << 32};
  }
  // lstm: the forget gate's block (rows H..2H) of bias_ih starts at forget_bias and
  // that of bias_hh at 0, so the gate's total bias is forget_bias.
  void set_forget_bias(const std::string& name, std::vector<float>& values) const {
    if (!is_lstm() || !c_.forget_bias || name.rfind("bias_", 0) != 0) return;
    const int h = c_.rnn.hidden_size;
    const float value = name.rfind("bias_ih", 0) == 0 ? *c_.forget_bias : 0.0f;
    std::fill(values.begin() + h, values.begin() + 2 * h, value);
  }

  RnnLayerConfig c_;
  uint64_t salt_;
  RnnReserve reserve_;
  Tensor h0_, c0_, hn_, cn_;
};

class SequencePoolLayer final : public Layer {
 public:
  SequencePoolLayer(const std::string& name, const std::string& x, const std::string& lengths,
                    SequencePool mode)
      : Layer(name, {x, lengths}), mode_(mode) {}
  const char* type() const override { return "sequence_pool"; }
  int input_count() const override { return 2; }
  bool differentiable_input(int i) const override { return i == 0; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    KILN_CHECK(in[0].size() == 3, "sequence_pool expects a sequence batch [T, B, features], got ",
               shape_str(in[0]));
    KILN_CHECK(in[1] == Shape({in[0][1]}), "sequence_pool: lengths are ", shape_str(in[1]),
               " but the sequence batch ", shape_str(in[0]), " needs [", in[0][1], "]");
    KILN_CHECK(mode_ != SequencePool::last_bidirectional || in[0][2] % 2 == 0,
               "sequence_pool: last_bidirectional needs an even feature count, got ", in[0][2]);
    return {in[0][1], in[0][2]};
  }
  void forward(const std::vector<const Tensor*>& x, Tensor& y, const RunContext&) override {
    ops::sequence_pool_forward(mode_, *x[0], *x[1], y);
  }
  void backward(const std::vector<const Tensor*>& x, const Tensor&, const Tensor& dy,
                const std::vector<Tensor*>& dx, const RunContext&) override {
    if (dx[0]) ops::sequence_pool_backward(mode_, *x[1], dy, *dx[0]);
  }

 private:
  SequencePool mode_;
};

}  // namespace

LayerPtr make_embedding(const std::string& name, const std::string& input,
                        const EmbeddingConfig& c) {
  return std::make_unique<EmbeddingLayer>(name, input, c);
}
LayerPtr make_rnn(const std::string& name, std::vector<std::string> inputs,
                  const RnnLayerConfig& c) {
  return std::make_unique<RnnLayer>(name, std::move(inputs), c);
}
LayerPtr make_sequence_pool(const std::string& name, const std::string& x,
                            const std::string& lengths, SequencePool mode) {
  return std::make_unique<SequencePoolLayer>(name, x, lengths, mode);
}

}  // namespace kiln::graph
