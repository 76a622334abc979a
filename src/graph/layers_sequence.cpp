// Layers of sequence models: embedding, the recurrent layers (lstm, gru, rnn) and
// many-to-one pooling. Values are time-major: ids [T, B], features [T, B, F].
#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/ops/sequence_pool.h"

namespace kiln::graph {

namespace {

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

LayerPtr make_sequence_pool(const std::string& name, const std::string& x,
                            const std::string& lengths, SequencePool mode) {
  return std::make_unique<SequencePoolLayer>(name, x, lengths, mode);
}

}  // namespace kiln::graph
