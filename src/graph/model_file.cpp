#include "kiln/graph/model_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <type_traits>

#include "data/file_io.h"
#include "kiln/data/text.h"
#include "kiln/error.h"
#include "kiln/graph/layers.h"

namespace kiln::graph {

namespace {

// Kernel sizes, strides, paddings and dilations beyond the largest image an IDX
// file holds (65535 pixels a side) can only be typos.
constexpr int kMaxExtent = 65535;
// Output channels and features: far above any model kiln trains, low enough that
// a typo is named instead of failing to allocate.
constexpr int kMaxWidth = 1 << 20;

// One layer entry of the file, with the context every message needs.
struct Entry {
  const YAML::Node& node;
  std::string name, type, where;  // where: "file: layer 'x' (type)"
  const DataSizes& sizes;

  template <class T>
  T get(const std::string& key, T fallback) const {
    if (!node[key]) return fallback;
    if constexpr (std::is_same_v<T, int>) {
      if (node[key].IsScalar() && node[key].Scalar().rfind('$', 0) == 0) return data_size(key);
    }
    try {
      return node[key].as<T>();
    } catch (const YAML::Exception&) {
      throw Error(where + ": '" + key + "' has a value of the wrong kind (line " +
                  std::to_string(node[key].Mark().line + 1) + ")");
    }
  }
  // An int or a list of `count` ints ([h, w] or [top, bottom, left, right]).
  std::vector<int> ints(const std::string& key, std::vector<int> fallback) const {
    if (!node[key]) return fallback;
    if (node[key].IsScalar()) return {get<int>(key, 0)};
    return get<std::vector<int>>(key, {});
  }
  std::pair<int, int> pair(const std::string& key, int fallback) const {
    const std::vector<int> v = ints(key, {fallback});
    KILN_CHECK(v.size() == 1 || v.size() == 2, where, ": '", key,
               "' takes one value or [height, width], got ", v.size(), " values");
    return {v[0], v.size() == 2 ? v[1] : v[0]};
  }
  // A pair whose values must lie in [min, kMaxExtent] when given.
  std::pair<int, int> bounded_pair(const std::string& key, int fallback, int min) const {
    const std::pair<int, int> v = pair(key, fallback);
    if (node[key]) {
      for (int x : {v.first, v.second}) check_extent(key, x, min);
    }
    return v;
  }
  void check_extent(const std::string& key, int value, int min) const {
    KILN_CHECK(value >= min && value <= kMaxExtent, where, ": '", key, "' is ", value,
               "; it must be in [", min, ", ", kMaxExtent, "] (images are at most ", kMaxExtent,
               " pixels wide)");
  }
  Error error(const std::string& what) const { return Error(where + ": " + what); }
  // `key: $words`: a size the data decides (a vocabulary's), given by the caller.
  int data_size(const std::string& key) const {
    const std::string wanted = node[key].Scalar().substr(1);
    const auto it = sizes.find(wanted);
    if (it == sizes.end()) {
      std::string known;
      for (const auto& [size_name, value] : sizes) known += (known.empty() ? "$" : ", $") + size_name;
      throw error("'" + key + ": $" + wanted + "' names no size of the data" +
                  (known.empty() ? " (none is known here: $-sizes are set by kiln train, eval, "
                                   "predict and generate from a text data set's vocabularies)"
                                 : "; known: " + known));
    }
    return static_cast<int>(it->second);
  }
};

// The kinds whose number is given in the file (the others derive it from the shape).
bool takes_value(InitKind kind) {
  return kind == InitKind::constant || kind == InitKind::uniform || kind == InitKind::normal;
}

// A padding as wide as the kernel makes output pixels that see nothing but
// padding; a larger one is a typo (and would make huge, meaningless outputs).
void check_padding_inside_kernel(const Entry& e, int padding, int extent) {
  if (padding >= extent) {
    throw e.error("padding " + std::to_string(padding) + " is not smaller than the kernel's extent " +
                  std::to_string(extent) + ": the outer outputs would see only padding");
  }
}

Initializer parse_init(const Entry& e, const std::string& key, Initializer fallback) {
  if (!e.node[key]) return fallback;
  const YAML::Node& n = e.node[key];
  try {
    Initializer init{parse_init_kind(n.IsScalar() ? n.as<std::string>()
                                                  : n["type"].as<std::string>(""))};
    if (takes_value(init.kind)) {
      KILN_CHECK(!n.IsScalar() && n["value"], "a ", init_kind_name(init.kind),
                 " initialiser needs a value: {type: ", init_kind_name(init.kind),
                 ", value: 0.1}");
      init.value = n["value"].as<float>();
    }
    return init;
  } catch (const Error& err) {
    throw e.error("'" + key + "': " + err.what());
  } catch (const YAML::Exception&) {
    throw e.error("'" + key + "' must be a name (he_normal) or {type: constant, value: 0}");
  }
}

Conv2dConfig parse_conv2d(const Entry& e) {
  Conv2dConfig c;
  c.out_channels = e.get<int>("out_channels", 0);
  if (c.out_channels <= 0 || c.out_channels > kMaxWidth) {
    throw e.error("needs out_channels (an integer in [1, " + std::to_string(kMaxWidth) + "])");
  }
  std::tie(c.kernel_h, c.kernel_w) = e.pair("kernel", 0);
  if (c.kernel_h <= 0 || c.kernel_w <= 0) throw e.error("needs a positive kernel");
  e.bounded_pair("kernel", 1, 1);
  std::tie(c.params.stride_h, c.params.stride_w) = e.bounded_pair("stride", 1, 1);
  std::tie(c.params.dilation_h, c.params.dilation_w) = e.bounded_pair("dilation", 1, 1);
  c.params.groups = e.get<int>("groups", 1);
  if (c.params.groups <= 0) throw e.error("groups must be positive, got " + std::to_string(c.params.groups));
  c.bias = e.get<bool>("bias", true);
  const YAML::Node& pad = e.node["padding"];
  if (pad && pad.IsScalar() && (pad.as<std::string>() == "same" || pad.as<std::string>() == "valid")) {
    c.same_padding = pad.as<std::string>() == "same";
  } else {
    const std::vector<int> p = e.ints("padding", {0});
    for (int x : p) e.check_extent("padding", x, 0);
    if (p.size() == 1) {
      c.params.pad_top = c.params.pad_bottom = c.params.pad_left = c.params.pad_right = p[0];
    } else if (p.size() == 2) {
      c.params.pad_top = c.params.pad_bottom = p[0];
      c.params.pad_left = c.params.pad_right = p[1];
    } else if (p.size() == 4) {
      c.params.pad_top = p[0], c.params.pad_bottom = p[1];
      c.params.pad_left = p[2], c.params.pad_right = p[3];
    } else {
      throw e.error("padding takes same, valid, one value, [h, w] or [top, bottom, left, right]");
    }
    const int extent = std::max((c.kernel_h - 1) * c.params.dilation_h,
                                (c.kernel_w - 1) * c.params.dilation_w) + 1;
    for (int x : p) check_padding_inside_kernel(e, x, extent);
  }
  c.weight_init = parse_init(e, "weight_init", c.weight_init);
  c.bias_init = parse_init(e, "bias_init", c.bias_init);
  return c;
}

Pool2dParams parse_pool(const Entry& e) {
  Pool2dParams p;
  std::tie(p.kernel_h, p.kernel_w) = e.pair("kernel", 0);
  if (p.kernel_h <= 0 || p.kernel_w <= 0) throw e.error("needs a positive kernel");
  e.bounded_pair("kernel", 1, 1);
  // Without a stride the windows tile the input (stride = kernel).
  std::tie(p.stride_h, p.stride_w) = e.bounded_pair("stride", 0, 1);
  if (!e.node["stride"]) std::tie(p.stride_h, p.stride_w) = std::make_pair(p.kernel_h, p.kernel_w);
  std::tie(p.pad_h, p.pad_w) = e.bounded_pair("padding", 0, 0);
  check_padding_inside_kernel(e, std::max(p.pad_h, p.pad_w), std::max(p.kernel_h, p.kernel_w));
  return p;
}

LinearConfig parse_linear(const Entry& e) {
  LinearConfig c;
  c.out_features = e.get<int>("out_features", 0);
  if (c.out_features <= 0 || c.out_features > kMaxWidth) {
    throw e.error("needs out_features (an integer in [1, " + std::to_string(kMaxWidth) + "])");
  }
  c.bias = e.get<bool>("bias", true);
  c.per_step = e.get<bool>("per_step", false);
  c.weight_init = parse_init(e, "weight_init", c.weight_init);
  c.bias_init = parse_init(e, "bias_init", c.bias_init);
  return c;
}

RnnLayerConfig parse_rnn(const Entry& e, RnnMode mode) {
  RnnLayerConfig c;
  c.rnn.mode = mode;
  if (e.type == "rnn") {
    const std::string nonlinearity = e.get<std::string>("nonlinearity", "tanh");
    if (nonlinearity != "tanh" && nonlinearity != "relu") {
      throw e.error("nonlinearity must be tanh or relu, got '" + nonlinearity + "'");
    }
    c.rnn.mode = nonlinearity == "tanh" ? RnnMode::rnn_tanh : RnnMode::rnn_relu;
  }
  c.rnn.hidden_size = e.get<int>("hidden_size", 0);
  if (c.rnn.hidden_size <= 0 || c.rnn.hidden_size > kMaxWidth) {
    throw e.error("needs hidden_size (an integer in [1, " + std::to_string(kMaxWidth) + "])");
  }
  c.rnn.num_layers = e.get<int>("num_layers", 1);
  if (c.rnn.num_layers <= 0 || c.rnn.num_layers > kMaxExtent) {
    throw e.error("num_layers must be in [1, " + std::to_string(kMaxExtent) + "], got " +
                  std::to_string(c.rnn.num_layers));
  }
  c.rnn.bidirectional = e.get<bool>("bidirectional", false);
  c.rnn.peepholes = e.get<bool>("peepholes", false);
  c.rnn.dropout = e.get<float>("dropout", 0.0f);
  if (e.node["forget_bias"]) c.forget_bias = e.get<float>("forget_bias", 0.0f);
  if (e.node["weight_init"]) c.weight_init = parse_init(e, "weight_init", {});
  return c;
}

EmbeddingConfig parse_embedding(const Entry& e) {
  EmbeddingConfig c;
  c.num_embeddings = e.get<int>("num_embeddings", 0);
  c.embedding_dim = e.get<int>("embedding_dim", 0);
  // Ids travel as floats: exact below 2^24.
  if (c.num_embeddings <= 0 || c.num_embeddings > (1 << 24) || c.embedding_dim <= 0 ||
      c.embedding_dim > kMaxWidth) {
    throw e.error("needs num_embeddings (the vocabulary size, at most 2^24) and embedding_dim "
                  "(at most " + std::to_string(kMaxWidth) + "), both positive");
  }
  c.padding_idx = e.get<int>("padding_idx", c.padding_idx);
  c.weight_init = parse_init(e, "weight_init", c.weight_init);
  return c;
}

// Across-channel LRN sums a window centred on each channel: its size is odd
// (as in Caffe); k > 0 keeps the denominator away from 0.
LrnParams parse_lrn(const Entry& e) {
  LrnParams p;
  p.size = e.get<int>("size", p.size);
  p.alpha = e.get<float>("alpha", p.alpha);
  p.beta = e.get<float>("beta", p.beta);
  p.k = e.get<float>("k", p.k);
  if (p.size < 1 || p.size % 2 == 0 || p.size > kMaxExtent) {
    throw e.error("size must be an odd number of channels (e.g. 5), got " + std::to_string(p.size));
  }
  if (!(p.k > 0) || !std::isfinite(p.k)) throw e.error("k must be a finite number > 0, got " + std::to_string(p.k));
  if (!(p.alpha >= 0) || !std::isfinite(p.alpha) || !(p.beta >= 0) || !std::isfinite(p.beta)) {
    throw e.error("alpha and beta must be finite and >= 0, got alpha " + std::to_string(p.alpha) +
                  ", beta " + std::to_string(p.beta));
  }
  return p;
}

using Factory = std::function<LayerPtr(const Entry&, const std::vector<std::string>&)>;

struct LayerType {
  std::set<std::string> keys;  // beyond name, type, input(s)
  Factory make;
  int inputs = 1;  // how many it reads; kTwoOrMore for add, kOneOrTwo for [x, lengths]
};
constexpr int kTwoOrMore = -1;
constexpr int kOneOrTwo = -2;

const std::map<std::string, LayerType>& layer_types() {
  static const std::map<std::string, LayerType> types = [] {
    std::map<std::string, LayerType> t;
    auto activation = [](Activation a) {
      return LayerType{{}, [a](const Entry& e, const auto& in) {
                         return make_activation(e.name, in[0], a);
                       }};
    };
    auto pool = [](PoolMode mode) {
      return LayerType{{"kernel", "stride", "padding"}, [mode](const Entry& e, const auto& in) {
                         return make_pool2d(e.name, in[0], mode, parse_pool(e));
                       }};
    };
    t["input"] = {{"shape", "sequence", "feature"}, [](const Entry& e, const auto&) {
                    if (!e.node["shape"]) throw e.error("needs shape (per sample, e.g. [1, 28, 28], or [] for labels)");
                    const auto dims = e.get<std::vector<int64_t>>("shape", {});
                    if (dims.size() > 4) throw e.error("shape has more than 4 dimensions");
                    for (int64_t d : dims) {
                      if (d < 1 || d > kMaxExtent) {
                        throw e.error("shape dimension " + std::to_string(d) + " is not in [1, " +
                                      std::to_string(kMaxExtent) + "]");
                      }
                    }
                    const std::string feature = e.get<std::string>("feature", "");
                    if (!feature.empty() && !is_token_feature(feature)) {
                      throw e.error("feature '" + feature + "' is not one of " + token_feature_names());
                    }
                    return make_input(e.name, Shape(dims.begin(), dims.end()),
                                      e.get<bool>("sequence", false), feature);
                  }, 0};
    t["conv2d"] = {{"out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias",
                    "weight_init", "bias_init"},
                   [](const Entry& e, const auto& in) { return make_conv2d(e.name, in[0], parse_conv2d(e)); }};
    t["max_pool2d"] = pool(PoolMode::max);
    t["avg_pool2d"] = pool(PoolMode::avg);
    t["linear"] = {{"out_features", "bias", "per_step", "weight_init", "bias_init"},
                   [](const Entry& e, const auto& in) { return make_linear(e.name, in[0], parse_linear(e)); }};
    t["relu"] = activation(Activation::relu);
    t["tanh"] = activation(Activation::tanh);
    t["sigmoid"] = activation(Activation::sigmoid);
    t["dropout"] = {{"p"}, [](const Entry& e, const auto& in) {
                      return make_dropout(e.name, in[0], e.get<float>("p", 0.5f));
                    }};
    t["lrn"] = {{"size", "alpha", "beta", "k"}, [](const Entry& e, const auto& in) {
                  return make_lrn(e.name, in[0], parse_lrn(e));
                }};
    auto recurrent = [](RnnMode mode, std::set<std::string> extra) {
      std::set<std::string> keys{"hidden_size", "num_layers", "bidirectional", "dropout",
                                 "weight_init"};
      keys.insert(extra.begin(), extra.end());
      return LayerType{keys, [mode](const Entry& e, const auto& in) {
                         return make_rnn(e.name, in, parse_rnn(e, mode));
                       }, kOneOrTwo};
    };
    t["lstm"] = recurrent(RnnMode::lstm, {"peepholes", "forget_bias"});
    t["gru"] = recurrent(RnnMode::gru, {});
    t["rnn"] = recurrent(RnnMode::rnn_tanh, {"nonlinearity"});
    t["embedding"] = {{"num_embeddings", "embedding_dim", "padding_idx", "weight_init"},
                      [](const Entry& e, const auto& in) {
                        return make_embedding(e.name, in[0], parse_embedding(e));
                      }};
    t["sequence_pool"] = {{"mode"}, [](const Entry& e, const auto& in) {
                            return make_sequence_pool(e.name, in[0], in[1],
                                                      parse_sequence_pool(e.get<std::string>("mode", "mean")));
                          }, 2};
    t["flatten"] = {{}, [](const Entry& e, const auto& in) { return make_flatten(e.name, in[0]); }};
    t["add"] = {{}, [](const Entry& e, const auto& in) { return make_add(e.name, in); }, kTwoOrMore};
    t["softmax_cross_entropy"] = {{"ignore_index"}, [](const Entry& e, const auto& in) {
                                    return make_softmax_cross_entropy(
                                        e.name, in[0], in[1],
                                        e.get<int>("ignore_index", ops::kNoIgnoreIndex));
                                  }, 2};
    return t;
  }();
  return types;
}

template <class Set>
std::string list(const Set& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

std::vector<std::string> entry_inputs(const Entry& e, const std::string& previous) {
  if (e.node["input"] && e.node["inputs"]) throw e.error("give either input or inputs, not both");
  if (e.node["input"]) return {e.get<std::string>("input", "")};
  if (e.node["inputs"]) return e.get<std::vector<std::string>>("inputs", {});
  if (e.type == "input") return {};
  if (previous.empty()) {
    throw e.error("has no input: give input: NAME (no layer comes before it to default to)");
  }
  return {previous};
}

}  // namespace

namespace {

std::string line_of(const YAML::Node& node) { return std::to_string(node.Mark().line + 1); }

// yaml-cpp keeps every entry of a map, and node[key] finds the first: a key given
// twice would silently lose its second value.
void reject_duplicate_keys(const YAML::Node& node, const std::string& source) {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) reject_duplicate_keys(item, source);
  }
  if (!node.IsMap()) return;
  std::set<std::string> keys;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    KILN_CHECK(kv.first.IsScalar(), source, ":", line_of(kv.first), ": a map key must be a name");
    KILN_CHECK(keys.insert(key).second, source, ":", line_of(kv.first), ": key '", key,
               "' is given twice in one map");
    reject_duplicate_keys(kv.second, source);
  }
}

std::string scalar(const YAML::Node& node, const std::string& what, const std::string& source) {
  KILN_CHECK(node.IsScalar(), source, ":", line_of(node), ": ", what, " must be a name");
  return node.Scalar();
}

void check_input_count(const Entry& e, int expected, std::size_t got) {
  if (expected == kTwoOrMore && got >= 2) return;
  if (expected == kOneOrTwo && (got == 1 || got == 2)) return;
  if (expected == static_cast<int>(got)) return;
  const std::string wanted = expected == kTwoOrMore ? "two or more"
                             : expected == kOneOrTwo ? "one or two ([x] or [x, lengths])"
                                                     : std::to_string(expected);
  throw e.error("takes " + wanted + " input(s), got " + std::to_string(got) +
                (e.type == "softmax_cross_entropy" ? " (give inputs: [logits, labels])" : ""));
}

void add_layers(Graph& graph, const YAML::Node& root, const std::string& source,
                const DataSizes& sizes) {
  std::set<std::string> type_names;
  for (const auto& [type, _] : layer_types()) type_names.insert(type);
  // A layer without input/inputs reads the latest non-input layer listed before
  // it, or, before any, the first input layer (so [data, label, conv1] feeds data).
  std::string previous, first_input;
  int index = 0;
  for (const YAML::Node& node : root["layers"]) {
    ++index;
    const std::string line = line_of(node);
    KILN_CHECK(node.IsMap(), source, ":", line, ": layer #", index, " is not a map");
    KILN_CHECK(node["name"], source, ":", line, ": layer #", index, " has no name");
    const std::string name = scalar(node["name"], "a layer's name", source);
    KILN_CHECK(node["type"], source, ":", line, ": layer '", name, "' has no type; types are: ",
               list(type_names));
    const std::string type = scalar(node["type"], "a layer's type", source);
    const Entry e{node, name, type, source + ":" + line + ": layer '" + name + "' (" + type + ")",
                  sizes};
    const auto it = layer_types().find(type);
    if (it == layer_types().end()) {
      throw Error(source + ":" + line + ": layer '" + name + "' has unknown type '" + type +
                  "'; types are: " + list(type_names));
    }
    std::set<std::string> valid = it->second.keys;
    valid.insert({"name", "type"});
    if (type != "input") valid.insert({"input", "inputs"});
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (!valid.count(key)) throw e.error("unknown key '" + key + "'; valid keys: " + list(valid));
    }
    try {
      const std::vector<std::string> inputs =
          entry_inputs(e, previous.empty() ? first_input : previous);
      check_input_count(e, it->second.inputs, inputs.size());
      graph.add(it->second.make(e, inputs));
    } catch (const Error& err) {
      const std::string what = err.what();
      if (what.rfind(e.where, 0) == 0) throw;
      throw e.error(what);
    }
    if (type != "input") previous = name;
    if (type == "input" && first_input.empty()) first_input = name;
  }
}

}  // namespace

namespace {

// The `train:` map: scalar values, kept as written for the caller to parse.
std::vector<RecipeEntry> parse_recipe(const YAML::Node& node, const std::string& source) {
  KILN_CHECK(node.IsMap(), source, ":", line_of(node), ": 'train' must be a map of settings ",
             "(train: {epochs: 10, lr: 0.01})");
  std::vector<RecipeEntry> recipe;
  for (const auto& kv : node) {
    const std::string key = scalar(kv.first, "a training setting's name", source);
    KILN_CHECK(kv.second.IsScalar(), source, ":", line_of(kv.second), ": train: '", key,
               "' must be a single value");
    recipe.push_back({key, kv.second.Scalar(), kv.first.Mark().line + 1});
  }
  return recipe;
}

YAML::Node load_yaml(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw Error(source + ": not valid YAML: " + e.what());
  }
  KILN_CHECK(root.IsMap() && root["layers"] && root["layers"].IsSequence(), source,
             ": a model file is a map with a list 'layers' (and optionally 'name' and 'train')");
  reject_duplicate_keys(root, source);
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    KILN_CHECK(key == "name" || key == "layers" || key == "train", source, ":", line_of(kv.first),
               ": unknown top-level key '", key, "'; a model file has 'name', 'layers' and ",
               "optionally 'train'");
  }
  return root;
}

ModelSpec model_spec(const YAML::Node& root, const std::string& source) {
  ModelSpec spec{root["name"] ? scalar(root["name"], "the model's name", source) : "model", source,
                 {}};
  if (root["train"]) spec.recipe = parse_recipe(root["train"], source);
  return spec;
}

std::string read_model_text(const std::string& path) {
  try {
    const std::vector<uint8_t> bytes = data::read_file(path);
    return std::string(bytes.begin(), bytes.end());
  } catch (const Error& e) {
    throw Error(std::string("cannot read the model file: ") + e.what());
  }
}

}  // namespace

ModelSpec add_model_yaml(Graph& graph, const std::string& yaml_text, const std::string& source,
                         const DataSizes& sizes) {
  const YAML::Node root = load_yaml(yaml_text, source);
  const ModelSpec spec = model_spec(root, source);
  try {
    add_layers(graph, root, source, sizes);
  } catch (const YAML::Exception& e) {  // a value yaml-cpp cannot convert
    throw Error(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return spec;
}

Graph load_model(const std::string& path, Device device, const GraphOptions& options,
                 ModelSpec* spec, const DataSizes& sizes) {
  Graph graph(device, options);
  ModelSpec s = add_model_yaml(graph, read_model_text(path), path, sizes);
  try {
    graph.build();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  if (spec) *spec = s;
  return graph;
}

ModelSpec read_model_spec(const std::string& path) {
  return model_spec(load_yaml(read_model_text(path), path), path);
}

}  // namespace kiln::graph
