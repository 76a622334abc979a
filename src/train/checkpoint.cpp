#include "kiln/train/checkpoint.h"

#include <filesystem>

#include "kiln/data/safetensors.h"
#include "kiln/error.h"

namespace kiln::train {

namespace {

const char* kStateFormat = "kiln-train-state-1";

std::string meta(const SafetensorsFile& file, const std::string& key, const std::string& path) {
  const auto it = file.metadata.find(key);
  KILN_CHECK(it != file.metadata.end(), path, ": metadata '", key, "' is missing; is this a ",
             "kiln optimizer.safetensors?");
  return it->second;
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

}  // namespace

std::string weights_path(const std::string& run_dir) { return run_dir + "/model.safetensors"; }
std::string optimizer_path(const std::string& run_dir) {
  return run_dir + "/optimizer.safetensors";
}

void save_checkpoint(const std::string& run_dir, graph::Graph& graph, Optimizer& optimizer,
                     const RunState& state, const std::map<std::string, std::string>& metadata) {
  std::filesystem::create_directories(run_dir);
  std::vector<NamedTensor> weights;
  for (graph::Param* p : graph.params()) weights.push_back({p->name, &p->value});
  std::map<std::string, std::string> weight_meta = metadata;
  weight_meta["format"] = "pt";  // what safetensors.torch expects
  save_safetensors(weights_path(run_dir), weights, weight_meta);

  std::vector<NamedTensor> moments;
  for (const StateTensor& s : optimizer.state()) moments.push_back({s.name, s.tensor});
  save_safetensors(optimizer_path(run_dir), moments,
                   {{"kiln.format", kStateFormat},
                    {"kiln.step", std::to_string(state.step)},
                    {"kiln.epoch", std::to_string(state.epoch)},
                    {"kiln.seed", std::to_string(state.seed)},
                    {"kiln.optimizer", optimizer_name(optimizer.config().kind)}});
}

RunState read_run_state(const std::string& run_dir) {
  const std::string path = optimizer_path(run_dir);
  KILN_CHECK(std::filesystem::exists(path), "cannot resume from '", run_dir, "': ", path,
             " does not exist (a run directory holds one after its first epoch)");
  const SafetensorsFile file = load_safetensors(path, Device::cpu());
  KILN_CHECK(meta(file, "kiln.format", path) == kStateFormat, path, ": unknown format '",
             meta(file, "kiln.format", path), "'");
  RunState s;
  s.epoch = std::stoi(meta(file, "kiln.epoch", path));
  s.step = std::stoll(meta(file, "kiln.step", path));
  s.seed = std::stoull(meta(file, "kiln.seed", path));
  s.optimizer = meta(file, "kiln.optimizer", path);
  return s;
}

RunState load_checkpoint(const std::string& run_dir, graph::Graph& graph, Optimizer& optimizer) {
  const RunState s = read_run_state(run_dir);
  KILN_CHECK(s.optimizer == optimizer_name(optimizer.config().kind), "cannot resume from '",
             run_dir, "': it was trained with --optimizer ", s.optimizer, ", not ",
             optimizer_name(optimizer.config().kind));
  load_weights(weights_path(run_dir), graph);
  const std::string path = optimizer_path(run_dir);
  SafetensorsFile file = load_safetensors(path, optimizer.squared_norm().device());
  std::map<std::string, Tensor*> destinations;
  for (const StateTensor& t : optimizer.state()) destinations[t.name] = t.tensor;
  restore(path, file, destinations, "optimizer state");
  optimizer.set_steps(s.step);
  return s;
}

std::map<std::string, std::string> load_weights(const std::string& path, graph::Graph& graph) {
  KILN_CHECK(std::filesystem::exists(path), "weights file '", path, "' does not exist");
  SafetensorsFile file = load_safetensors(path, graph.device());
  std::map<std::string, Tensor*> destinations;
  for (graph::Param* p : graph.params()) destinations[p->name] = &p->value;
  restore(path, file, destinations, "parameter");
  return file.metadata;
}

}  // namespace kiln::train
