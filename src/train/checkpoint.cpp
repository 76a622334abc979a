#include "kiln/train/checkpoint.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "kiln/data/safetensors.h"
#include "kiln/error.h"

namespace kiln::train {

namespace {

const char* kStateFormat = "kiln-train-state-1";

std::string meta(const SafetensorsFile& file, const std::string& key, const std::string& path) {
  const auto it = file.metadata.find(key);
  KILN_CHECK(it != file.metadata.end(), path, ": metadata '", key, "' is missing; is this a ",
             "file of a kiln checkpoint?");
  return it->second;
}

// The file's metadata `key` must equal `expected`: the two files of a checkpoint
// and its record agree, or the directory was mixed up.
void expect_meta(const SafetensorsFile& file, const std::string& key, const std::string& expected,
                 const std::string& path) {
  const std::string value = meta(file, key, path);
  KILN_CHECK(value == expected, path, ": metadata ", key, " is '", value, "' but the checkpoint ",
             "record says '", expected, "': the files of this checkpoint do not belong together ",
             "(copied or edited by hand?). Restore the run directory, or start a new run with ",
             "--out NEW_DIR --init <a model.safetensors you trust>");
}

// Copies each named tensor of `file` into its destination, checking that the
// names and shapes match exactly.
void restore(const std::string& path, SafetensorsFile& file,
             const std::map<std::string, Tensor*>& destinations, const char* what) {
  for (const auto& [name, dst] : destinations) {
    const auto it = file.tensors.find(name);
    KILN_CHECK(it != file.tensors.end(), path, ": ", what, " '", name, "' is missing (the file ",
               "was written for another model or optimizer?)");
    KILN_CHECK(it->second.shape() == dst->shape(), path, ": ", what, " '", name, "' has shape ",
               shape_str(it->second.shape()), " but the model needs ", shape_str(dst->shape()));
    dst->copy_from(it->second);
  }
  for (const auto& [name, tensor] : file.tensors) {
    KILN_CHECK(destinations.count(name), path, ": unexpected tensor '", name, "' ",
               shape_str(tensor.shape()), ": the model has no such ", what);
  }
}

void check_finite(const std::string& path, const std::string& name, const Tensor& t) {
  const std::vector<float> values = t.to_vector();
  for (std::size_t i = 0; i < values.size(); ++i) {
    KILN_CHECK(std::isfinite(values[i]), path, ": tensor '", name, "' holds ", values[i],
               " at element ", i, "; weights must be finite (the file comes from a run that ",
               "diverged, or is damaged)");
  }
}

template <class T>
bool parse_whole(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end && !text.empty();
}

std::string checkpoint_tag(int64_t number) { return std::to_string(number); }

// Recurrent state saved mid-epoch, in the optimizer file under this prefix.
const std::string kCarriedPrefix = "carried.";

// Moves the file's carried-state tensors into the graph's layers (and out of `file`).
void restore_carried_state(const std::string& path, SafetensorsFile& file, graph::Graph& graph) {
  std::map<std::string, Tensor*> slots;
  for (const auto& [name, tensor] : graph.carried_state()) slots[kCarriedPrefix + name] = tensor;
  for (auto it = file.tensors.begin(); it != file.tensors.end();) {
    if (it->first.rfind(kCarriedPrefix, 0) != 0) {
      ++it;
      continue;
    }
    const auto slot = slots.find(it->first);
    KILN_CHECK(slot != slots.end(), path, ": carried state '", it->first,
               "' belongs to no recurrent layer of this model");
    *slot->second = std::move(it->second);
    it = file.tensors.erase(it);
  }
}

}  // namespace

int64_t parse_integer(const std::string& text, int64_t min, int64_t max, const std::string& where) {
  int64_t value = 0;
  KILN_CHECK(parse_whole(text, value) && value >= min && value <= max, where, ": '", text,
             "' is not an integer in [", min, ", ", max, "]");
  return value;
}

uint64_t parse_unsigned(const std::string& text, const std::string& where) {
  uint64_t value = 0;
  KILN_CHECK(parse_whole(text, value), where, ": '", text,
             "' is not an integer in [0, 18446744073709551615]");
  return value;
}

float parse_float(const std::string& text, const std::string& where) {
  float value = 0;
  KILN_CHECK(parse_whole(text, value) && std::isfinite(value), where, ": '", text,
             "' is not a finite number");
  return value;
}

void write_checkpoint_files(const std::string& dir, int64_t number, graph::Graph& graph,
                            Optimizer& optimizer, const RunState& state,
                            const std::map<std::string, std::string>& metadata) {
  std::vector<NamedTensor> weights;
  for (graph::Param* p : graph.params()) weights.push_back({p->name, &p->value});
  std::map<std::string, std::string> weight_meta = metadata;
  weight_meta["format"] = "pt";  // what safetensors.torch expects
  weight_meta["kiln.checkpoint"] = checkpoint_tag(number);
  weight_meta["kiln.step"] = std::to_string(state.step);
  save_safetensors(dir + "/model.safetensors", weights, weight_meta);

  std::vector<NamedTensor> moments;
  for (const StateTensor& s : optimizer.state()) moments.push_back({s.name, s.tensor});
  if (state.batch_in_epoch > 0) {  // mid-epoch: the recurrent state carried into the next batch
    for (const auto& [name, tensor] : graph.carried_state()) {
      if (tensor->defined()) moments.push_back({kCarriedPrefix + name, tensor});
    }
  }
  save_safetensors(dir + "/optimizer.safetensors", moments,
                   {{"kiln.format", kStateFormat},
                    {"kiln.checkpoint", checkpoint_tag(number)},
                    {"kiln.step", std::to_string(state.step)},
                    {"kiln.epoch", std::to_string(state.epoch)},
                    {"kiln.seed", std::to_string(state.seed)},
                    {"kiln.optimizer", optimizer_name(optimizer.config().kind)}});
}

void read_checkpoint_files(const std::string& dir, int64_t number, const RunState& state,
                           graph::Graph& graph, Optimizer& optimizer) {
  KILN_CHECK(state.optimizer == optimizer_name(optimizer.config().kind), "cannot resume from '",
             dir, "': it was trained with --optimizer ", state.optimizer, ", not ",
             optimizer_name(optimizer.config().kind));
  const std::string model_path = dir + "/model.safetensors";
  const auto model_meta = load_weights(model_path, graph);
  SafetensorsFile model{{}, model_meta};
  expect_meta(model, "kiln.checkpoint", checkpoint_tag(number), model_path);
  expect_meta(model, "kiln.step", std::to_string(state.step), model_path);

  const std::string path = dir + "/optimizer.safetensors";
  KILN_CHECK(std::filesystem::exists(path), path, " does not exist: the checkpoint is incomplete ",
             "(edited by hand?); start a new run with --out NEW_DIR --init ", model_path);
  SafetensorsFile file = load_safetensors(path, optimizer.squared_norm().device());
  KILN_CHECK(meta(file, "kiln.format", path) == kStateFormat, path, ": unknown format '",
             meta(file, "kiln.format", path), "'");
  expect_meta(file, "kiln.checkpoint", checkpoint_tag(number), path);
  expect_meta(file, "kiln.step", std::to_string(state.step), path);
  expect_meta(file, "kiln.epoch", std::to_string(state.epoch), path);
  expect_meta(file, "kiln.seed", std::to_string(state.seed), path);
  expect_meta(file, "kiln.optimizer", state.optimizer, path);
  restore_carried_state(path, file, graph);
  std::map<std::string, Tensor*> destinations;
  for (const StateTensor& t : optimizer.state()) destinations[t.name] = t.tensor;
  restore(path, file, destinations, "optimizer state");
  optimizer.set_steps(state.step);
}

std::map<std::string, std::string> load_weights(const std::string& path, graph::Graph& graph) {
  KILN_CHECK(std::filesystem::exists(path), "weights file '", path, "' does not exist");
  SafetensorsFile file = load_safetensors(path, Device::cpu());
  for (const auto& [name, tensor] : file.tensors) check_finite(path, name, tensor);
  std::map<std::string, Tensor*> destinations;
  for (graph::Param* p : graph.params()) destinations[p->name] = &p->value;
  restore(path, file, destinations, "parameter");
  return file.metadata;
}

}  // namespace kiln::train
