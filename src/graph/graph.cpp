#include "kiln/graph/graph.h"

#include <algorithm>
#include <functional>
#include <iomanip>
#include <queue>
#include <sstream>

#include "kiln/error.h"
#include "kiln/graph/layers.h"
#include "kiln/ops/elementwise.h"

namespace kiln::graph {

struct Graph::Node {
  std::unique_ptr<Layer> layer;
  std::vector<Node*> inputs;
  int consumers = 0;  // edges out of this value
  Shape shape;
  bool needs_grad = false;
  bool grad_written = false;  // during a backward pass
  Tensor value, grad;
  // Where input i's gradient goes when that input already holds another
  // consumer's gradient (fan-out): computed here, then added.
  std::vector<Tensor> scratch;
};

Graph::Graph(Device device, GraphOptions options) : device_(device), options_(options) {}
Graph::~Graph() = default;
Graph::Graph(Graph&&) noexcept = default;
Graph& Graph::operator=(Graph&&) noexcept = default;

namespace {

std::string describe(const Layer& layer) {
  return "layer '" + layer.name() + "' (" + layer.type() + ")";
}

template <class Range, class Name>
std::string join_names(const Range& items, Name name) {
  std::ostringstream out;
  bool first = true;
  for (const auto& item : items) {
    out << (first ? "" : ", ") << name(item);
    first = false;
  }
  return out.str();
}

// Valid UTF-8 without control characters: layer names become tensor names in
// the JSON header of a safetensors checkpoint.
bool is_printable_utf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : -1;
    if (extra < 0 || (extra == 0 && (c < 0x20 || c == 0x7f))) return false;
    if (extra > 0 && i + static_cast<std::size_t>(extra) >= text.size()) return false;  // cut short
    uint32_t code = extra == 0 ? c : c & (0x3f >> extra);
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return false;
      code = (code << 6) | (next & 0x3f);
    }
    static const uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

std::string hex_bytes(const std::string& text) {
  std::ostringstream out;
  for (std::size_t i = 0; i < text.size() && i < 16; ++i) {
    out << (i ? " " : "") << std::hex << std::setw(2) << std::setfill('0')
        << static_cast<int>(static_cast<unsigned char>(text[i]));
  }
  return out.str() + (text.size() > 16 ? " ..." : "");
}

// The values of one sample a layer may produce: 2^28 floats (1 GiB). Beyond it a
// model file has a typo (a huge padding or stride product), not a real layer.
constexpr int64_t kMaxSampleValues = int64_t{1} << 28;

void check_sample_size(const Shape& shape, const std::string& layer) {
  int64_t values = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) {
    KILN_CHECK(shape[d] >= 0 && (shape[d] == 0 || values <= kMaxSampleValues / shape[d]), layer,
               ": its output ", shape_str(shape), " holds more than ", kMaxSampleValues,
               " values per sample; check its kernel, padding, stride and sizes");
    values *= shape[d];
  }
}

}  // namespace

void Graph::add(std::unique_ptr<Layer> layer) {
  KILN_CHECK(!built_, "cannot add ", describe(*layer), ": the graph is already built");
  KILN_CHECK(!layer->name().empty(), "a ", layer->type(), " layer has no name");
  KILN_CHECK(is_printable_utf8(layer->name()), "a ", layer->type(), " layer's name is not ",
             "printable UTF-8 (bytes ", hex_bytes(layer->name()), "); checkpoints name tensors ",
             "after their layers: use letters, digits, '_' or '-'");
  KILN_CHECK(!by_name_.count(layer->name()), "two layers are named '", layer->name(),
             "'; layer names must be unique");
  auto node = std::make_unique<Node>();
  node->layer = std::move(layer);
  by_name_[node->layer->name()] = node.get();
  nodes_.push_back(std::move(node));
}

Graph::Node& Graph::node(const std::string& name) {
  auto it = by_name_.find(name);
  KILN_CHECK(it != by_name_.end(), "no layer or value named '", name, "'; the graph has: ",
             join_names(nodes_, [](const auto& n) { return n->layer->name(); }));
  return *it->second;
}
const Graph::Node& Graph::node(const std::string& name) const {
  return const_cast<Graph*>(this)->node(name);
}

void Graph::build() {
  KILN_CHECK(!built_, "the graph is already built");
  KILN_CHECK(!nodes_.empty(), "the model has no layers");
  const std::string all_names =
      join_names(nodes_, [](const auto& n) { return n->layer->name(); });
  for (auto& n : nodes_) {
    const Layer& layer = *n->layer;
    KILN_CHECK(static_cast<int>(layer.inputs().size()) == layer.input_count(), describe(layer),
               " takes ", layer.input_count(), " input(s), got ", layer.inputs().size(),
               layer.inputs().empty() ? "" : ": ", join_names(layer.inputs(), [](auto& s) { return s; }));
    for (const std::string& in : layer.inputs()) {
      auto it = by_name_.find(in);
      KILN_CHECK(it != by_name_.end(), describe(layer), ": unknown input '", in,
                 "'; valid inputs are the layers ", all_names);
      KILN_CHECK(it->second != n.get(), describe(layer), " reads its own output");
      n->inputs.push_back(it->second);
      ++it->second->consumers;
    }
  }
  const size_t losses = std::count_if(nodes_.begin(), nodes_.end(),
                                      [](const auto& n) { return is_loss_layer(*n->layer); });
  KILN_CHECK(losses <= 1, "the model has ", losses, " loss heads; kiln trains one");
  sort_topologically();
  infer_shapes(1, 1);
  for (Node* n : sorted_) {
    std::vector<Shape> in;
    for (Node* i : n->inputs) in.push_back(i->shape);
    n->layer->create_params(in, device_, options_.seed);
  }
  mark_gradients();
  built_ = true;
}

// Kahn's algorithm; among ready layers the one added first goes first (a heap of
// insertion indices), so a sequential model file runs in file order.
// O((layers + edges) log layers).
void Graph::sort_topologically() {
  std::map<const Node*, std::size_t> index;
  for (std::size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  std::vector<std::vector<std::size_t>> consumers(nodes_.size());
  std::vector<std::size_t> waiting(nodes_.size());
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    waiting[i] = nodes_[i]->inputs.size();
    for (const Node* in : nodes_[i]->inputs) consumers[index.at(in)].push_back(i);
    if (waiting[i] == 0) ready.push(i);
  }
  while (!ready.empty()) {
    const std::size_t i = ready.top();
    ready.pop();
    sorted_.push_back(nodes_[i].get());
    order_.push_back(nodes_[i]->layer.get());
    for (std::size_t c : consumers[i]) {
      if (--waiting[c] == 0) ready.push(c);
    }
  }
  if (sorted_.size() == nodes_.size()) return;
  std::vector<std::string> cycle;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (waiting[i] > 0) cycle.push_back(nodes_[i]->layer->name());
  }
  throw Error("the layers " + join_names(cycle, [](auto& s) { return s; }) +
              " form a cycle (or depend on one): a model must be a directed acyclic graph");
}

void Graph::infer_shapes(int64_t batch, int64_t steps) {
  for (Node* n : sorted_) {
    const Layer& layer = *n->layer;
    if (is_input_layer(layer)) {
      n->shape = is_sequence_input(layer) ? Shape{steps, batch} : Shape{batch};
      for (int64_t d : input_sample_shape(layer)) n->shape.push_back(d);
      check_sample_size(n->shape, describe(layer));
      continue;
    }
    std::vector<Shape> in;
    for (Node* i : n->inputs) in.push_back(i->shape);
    try {
      n->shape = layer.output_shape(in);
    } catch (const Error& e) {
      std::ostringstream inputs;
      for (size_t i = 0; i < in.size(); ++i) {
        inputs << (i ? ", " : "") << "'" << layer.inputs()[i] << "' " << shape_str(in[i]);
      }
      throw Error(describe(layer) + ": " + e.what() + " [inputs: " + inputs.str() + "]");
    }
    check_sample_size(n->shape, describe(layer));
  }
}

void Graph::mark_gradients() {
  for (Node* n : sorted_) {
    if (is_input_layer(*n->layer)) {
      n->needs_grad = options_.input_gradients;
      continue;
    }
    n->needs_grad = !n->layer->params().empty();
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      if (n->layer->differentiable_input(static_cast<int>(i)) && n->inputs[i]->needs_grad) {
        n->needs_grad = true;
      }
    }
  }
}

void Graph::set_batch(int64_t batch, int64_t steps) {
  KILN_CHECK(built_, "set_batch: build() the graph first");
  KILN_CHECK(batch > 0, "the batch size must be positive, got ", batch);
  KILN_CHECK(steps > 0, "the number of time steps must be positive, got ", steps);
  if (batch == batch_ && steps == steps_) return;
  infer_shapes(batch, steps);
  for (Node* n : sorted_) {
    n->value = Tensor(n->shape, device_);
    n->grad = n->needs_grad ? Tensor(n->shape, device_) : Tensor();
    n->scratch.clear();
    for (Node* in : n->inputs) {
      n->scratch.push_back(in->needs_grad && in->consumers > 1 ? Tensor(in->shape, device_)
                                                               : Tensor());
    }
  }
  batch_ = batch;
  steps_ = steps;
}

Tensor& Graph::input(const std::string& name) {
  Node& n = node(name);
  KILN_CHECK(is_input_layer(*n.layer), "'", name, "' is a ", n.layer->type(),
             " layer, not an input; inputs are: ",
             join_names(input_names(), [](auto& s) { return s; }));
  KILN_CHECK(batch_ > 0, "input '", name, "': call set_batch() before filling inputs");
  return n.value;
}

std::vector<std::string> Graph::input_names() const {
  std::vector<std::string> names;
  for (const auto& n : nodes_) {
    if (is_input_layer(*n->layer)) names.push_back(n->layer->name());
  }
  return names;
}

void Graph::forward(const RunContext& ctx) {
  KILN_CHECK(batch_ > 0, "forward: call set_batch() and fill the inputs first");
  for (Node* n : sorted_) {
    if (is_input_layer(*n->layer)) continue;
    std::vector<const Tensor*> x;
    for (Node* in : n->inputs) x.push_back(&in->value);
    if (observer_) observer_->begin(*n->layer, false);
    n->layer->forward(x, n->value, ctx);
    if (observer_) observer_->end(*n->layer, false);
  }
}

void Graph::backward(const RunContext& ctx) {
  const Layer& loss = loss_layer();
  const auto it = std::find(order_.begin(), order_.end(), &loss);
  for (Node* n : sorted_) n->grad_written = false;
  Node& head = node(loss.name());
  head.grad_written = true;  // d loss / d loss = 1, implied by the loss head
  run_backward(static_cast<size_t>(it - order_.begin()), ctx);
}

void Graph::backward_from(const std::string& value, const Tensor& grad, const RunContext& ctx) {
  Node& start = node(value);
  KILN_CHECK(!is_loss_layer(*start.layer), "backward_from('", value,
             "'): that is the loss head; use backward()");
  KILN_CHECK(start.needs_grad, "backward_from('", value, "'): nothing before it has parameters",
             " or needs a gradient");
  KILN_CHECK(grad.shape() == start.shape, "backward_from('", value, "'): gradient shape ",
             shape_str(grad.shape()), " differs from the value's shape ", shape_str(start.shape));
  for (Node* n : sorted_) n->grad_written = false;
  start.grad.copy_from(grad);
  start.grad_written = true;
  const auto it = std::find(sorted_.begin(), sorted_.end(), &start);
  run_backward(static_cast<size_t>(it - sorted_.begin()), ctx);
}

void Graph::run_backward(size_t start, const RunContext& ctx) {
  for (size_t k = start + 1; k-- > 0;) {
    Node* n = sorted_[k];
    if (is_input_layer(*n->layer)) continue;
    if (!n->grad_written) {
      // No gradient reaches this layer: its parameters get none either.
      for (Param& p : n->layer->params()) ops::fill(p.grad, 0.0f);
      continue;
    }
    std::vector<const Tensor*> x;
    std::vector<Tensor*> dx;
    std::vector<bool> direct;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Node* in = n->inputs[i];
      x.push_back(&in->value);
      const bool wanted = in->needs_grad && n->layer->differentiable_input(static_cast<int>(i));
      const bool claimed = std::any_of(dx.begin(), dx.end(), [&](Tensor* d) { return d == &in->grad; });
      const bool into_grad = wanted && !in->grad_written && !claimed;
      direct.push_back(into_grad);
      dx.push_back(!wanted ? nullptr : into_grad ? &in->grad : &n->scratch[i]);
    }
    if (observer_) observer_->begin(*n->layer, true);
    n->layer->backward(x, n->value, n->grad, dx, ctx);
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      if (!dx[i]) continue;
      Node* in = n->inputs[i];
      if (!direct[i]) ops::add(in->grad, n->scratch[i], in->grad);
      in->grad_written = true;
    }
    if (observer_) observer_->end(*n->layer, true);
  }
}

void Graph::check_device_status() const {
  for (const Node* n : sorted_) n->layer->check_device_status();
}

const Tensor& Graph::value(const std::string& name) const { return node(name).value; }

const Tensor& Graph::gradient(const std::string& name) const {
  const Node& n = node(name);
  KILN_CHECK(n.needs_grad, "value '", name, "' has no gradient (it feeds no parameter",
             is_input_layer(*n.layer) ? "; set GraphOptions::input_gradients" : "", ")");
  return n.grad;
}

const Shape& Graph::shape(const std::string& name) const { return node(name).shape; }

const Layer& Graph::loss_layer() const {
  for (const auto& n : nodes_) {
    if (is_loss_layer(*n->layer)) return *n->layer;
  }
  throw Error("the model has no loss head: add a softmax_cross_entropy layer with inputs "
              "[logits, labels]");
}

std::vector<std::pair<std::string, Tensor*>> Graph::carried_state() {
  std::vector<std::pair<std::string, Tensor*>> state;
  for (Layer* layer : order_) {
    for (const auto& [slot, tensor] : layer->carried_state()) {
      state.emplace_back(layer->name() + "." + slot, tensor);
    }
  }
  return state;
}

std::vector<Param*> Graph::params() {
  std::vector<Param*> out;
  for (Node* n : sorted_) {
    for (Param& p : n->layer->params()) out.push_back(&p);
  }
  return out;
}

Param& Graph::param(const std::string& name) {
  for (Param* p : params()) {
    if (p->name == name) return *p;
  }
  throw Error("the model has no parameter '" + name + "'; it has: " +
              join_names(params(), [](Param* p) { return p->name; }));
}

RunContext Graph::context(bool training, uint64_t step) const {
  RunContext ctx;
  ctx.training = training;
  ctx.step = step;
  ctx.seed = options_.seed;
  ctx.engine = options_.engine;
  ctx.deterministic = options_.deterministic;
  return ctx;
}

}  // namespace kiln::graph
