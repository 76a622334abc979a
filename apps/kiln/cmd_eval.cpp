// `kiln eval MODEL.yaml --weights FILE --data DIR`: loss and accuracy of a weights
// file on a split of an IDX data set, as one JSON object on stdout.
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/error.h"
#include "input_checks.h"
#include "run_options.h"

namespace kiln::cli {

namespace {

struct EvalOptions {
  TrainedModelOptions trained;
  std::string data, split = "test";
};

void run_eval(const EvalOptions& o) {
  TrainedModel m = load_trained_model(o.trained);
  const ImageDataset split = load_image_split(o.data, o.split);
  check_image_input(m.graph, split.images.rows, split.images.cols, o.trained.model);
  check_labels(m.graph, split, o.data, o.split);
  DeviceDataset data(split, m.device, m.norm.mean, m.norm.stddev);
  train::DatasetSource<DeviceDataset> source(data);
  const train::EvalResult r = train::evaluate(m.graph, source, o.trained.batch_size);
  KILN_CHECK(std::isfinite(r.loss), "eval: the loss on ", r.images, " images is ", r.loss,
             ": the weights or the input normalisation (mean ", m.norm.mean, ", stddev ",
             m.norm.stddev, ") give non-finite activations");
  std::cout << nlohmann::json{{"split", o.split}, {"images", r.images}, {"loss", r.loss},
                              {"accuracy", r.accuracy}}
                   .dump()
            << "\n";
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Loss and accuracy of trained weights on a data set");
  add_trained_model_options(cmd, o->trained);
  cmd->add_option("--data", o->data, "directory with the IDX files")->required();
  cmd->add_option("--split", o->split, "train or test")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace kiln::cli
