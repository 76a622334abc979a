// A model file's `train:` recipe applied to a command's options: each setting is
// given to the flag of the same name ('_' read as '-') unless that flag was on the
// command line, so it goes through the flag's own parsing and checks.
#pragma once
#include <CLI/CLI.hpp>
#include <vector>

#include "kiln/graph/model_file.h"

namespace kiln::cli {

// Throws an Error naming FILE:LINE for an unknown setting or a bad value.
void apply_recipe(CLI::App& cmd, const graph::ModelSpec& spec);

}  // namespace kiln::cli
