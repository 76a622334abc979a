// Each `kiln` subcommand registers itself on the root CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace kiln::cli {
void add_devices_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_time_command(CLI::App& app);
void add_convert_mnist_command(CLI::App& app);
void add_generate_command(CLI::App& app);
}  // namespace kiln::cli
