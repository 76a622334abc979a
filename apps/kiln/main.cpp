// kiln: train and run CNNs and LSTMs on cpu, simt (the CUDA kernels on the
// emulator) or cuda. Each subcommand lives in its own file (cmd_*.cpp).
#include <iostream>

#include "commands.h"
#include "kiln/error.h"
#include "signals.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln " KILN_VERSION ": a small CUDA deep learning runtime"};
  app.require_subcommand(1);
  kiln::cli::add_devices_command(app);
  kiln::cli::add_train_command(app);
  kiln::cli::add_eval_command(app);
  kiln::cli::add_predict_command(app);
  kiln::cli::add_generate_command(app);
  kiln::cli::add_time_command(app);
  kiln::cli::add_convert_mnist_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const kiln::cli::ExitStatus& status) {
    return status.code;
  } catch (const std::exception& e) {  // kiln::Error and the standard library's
    std::cerr << "kiln: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
