#include "recipe.h"

#include <algorithm>

#include "kiln/error.h"

namespace kiln::cli {

namespace {

// The flags a recipe may set: the command's long options that configure training.
std::vector<std::string> settable_flags(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const std::string& name : opt->get_lnames()) {
      if (name != "help" && name != "out" && name != "resume" && name != "data") names.push_back(name);
    }
  }
  return names;
}

}  // namespace

void apply_recipe(CLI::App& cmd, const graph::ModelSpec& spec) {
  const std::vector<std::string> flags = settable_flags(cmd);
  for (const graph::RecipeEntry& entry : spec.recipe) {
    std::string name = entry.key;
    std::replace(name.begin(), name.end(), '_', '-');
    const std::string where = spec.source + ":" + std::to_string(entry.line) + ": train: '" +
                              entry.key + "'";
    if (std::find(flags.begin(), flags.end(), name) == flags.end()) {
      std::string valid;
      for (const std::string& flag : flags) {
        std::string key = flag;
        std::replace(key.begin(), key.end(), '-', '_');
        valid += (valid.empty() ? "" : ", ") + key;
      }
      throw Error(where + " is not a setting of kiln " + cmd.get_name() + "; settings: " + valid);
    }
    CLI::Option* opt = cmd.get_option("--" + name);
    if (opt->count() > 0) continue;  // the command line wins
    try {
      opt->add_result(entry.value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
}

}  // namespace kiln::cli
