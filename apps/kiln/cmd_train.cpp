// `kiln train MODEL.yaml --data DIR --out RUN_DIR`: trains a model on the IDX image
// splits or the text splits in DIR, writing checkpoints and metrics.jsonl into RUN_DIR
// each epoch (and, for text, the vocabularies). The model file's `train:` recipe
// supplies the flags the command line leaves out.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "kiln/error.h"
#include "kiln/graph/model_file.h"
#include "kiln/train/checkpoint.h"
#include "input_checks.h"
#include "kiln/train/text_task.h"
#include "recipe.h"
#include "run_options.h"
#include "signals.h"
#include "validators.h"

namespace kiln::cli {

namespace {

struct TrainOptions {
  std::string model, data, out, resume, init;
  DeviceOptions device;
  int epochs = 10;
  int64_t batch_size = 64;
  float lr = 0.01f;
  std::string optimizer = "sgd", schedule = "constant";
  float momentum = 0.9f, weight_decay = 5e-4f, beta1 = 0.9f, beta2 = 0.999f, clip_norm = 0;
  int lr_step_epochs = 5;
  float lr_gamma = 0.1f;
  uint64_t seed = 1;
  int log_every = 100;
  int augment_shift = 0;
  int32_t bptt = 35;
  int min_count = 1;
};

// The command that continues a stopped run.
std::string resume_command(const TrainOptions& o, const std::string& run_dir) {
  return "kiln train " + o.model + " --data " + o.data + " --resume " + run_dir + " --epochs " +
         std::to_string(o.epochs) + " (and the other flags of this run)";
}

train::TrainConfig train_config(const TrainOptions& o, const std::string& run_dir, uint64_t seed) {
  train::TrainConfig config;
  config.epochs = o.epochs;
  config.batch_size = o.batch_size;
  config.seed = seed;
  config.log_every = o.log_every;
  config.optimizer.kind = train::parse_optimizer(o.optimizer);
  config.optimizer.momentum = o.momentum;
  config.optimizer.weight_decay = o.weight_decay;
  config.optimizer.beta1 = o.beta1;
  config.optimizer.beta2 = o.beta2;
  config.optimizer.clip_norm = o.clip_norm;
  config.schedule.kind = train::parse_schedule(o.schedule);
  config.schedule.base_lr = o.lr;
  config.schedule.step_epochs = o.lr_step_epochs;
  config.schedule.gamma = o.lr_gamma;
  config.run_dir = run_dir;
  return config;
}

// Trains with Ctrl-C / SIGTERM stopping at the next step boundary (checkpoint written).
void fit_until_signal(train::Trainer& trainer, train::BatchSource& train_source,
                      train::BatchSource& test_source, const TrainOptions& o,
                      const std::string& run_dir) {
  const StopOnSignals signals;
  trainer.stop_requested = [] { return StopOnSignals::received() != 0; };
  trainer.fit(train_source, &test_source);
  if (trainer.interrupted()) {
    const int signal = StopOnSignals::received();
    std::cerr << "kiln train: stopped by " << signal_name(signal) << " after step "
              << trainer.step() << " (" << trainer.epochs_done() << " epochs complete); "
              << "checkpoint written to " << run_dir << ". Continue with: "
              << resume_command(o, run_dir) << "\n";
    throw ExitStatus{128 + signal};
  }
}

void start_or_resume(train::Trainer& trainer, const TrainOptions& o) {
  if (o.resume.empty()) {
    trainer.start();
  } else {
    trainer.resume(o.resume);
  }
}

void train_images(const TrainOptions& o, train::TrainConfig config, const Device& device,
                  const graph::GraphOptions& graph_options, const std::string& run_dir) {
  graph::ModelSpec spec;
  graph::Graph graph = graph::load_model(o.model, device, graph_options, &spec);
  if (!o.init.empty()) train::load_weights(o.init, graph);
  const ImageDataset train_split = load_image_split(o.data, "train");
  const ImageDataset test_split = load_image_split(o.data, "test");
  check_same_image_size(train_split, test_split, o.data);
  check_image_input(graph, train_split.images.rows, train_split.images.cols, o.model);
  check_labels(graph, train_split, o.data, "training");
  check_labels(graph, test_split, o.data, "test");
  const Normalisation norm = pixel_statistics(train_split);
  DeviceDataset train_data(train_split, device, norm.mean, norm.stddev);
  DeviceDataset test_data(test_split, device, norm.mean, norm.stddev);
  train_data.set_augmentation(Augmentation{o.augment_shift, config.seed});
  config.metadata = normalisation_metadata(norm);
  config.metadata["kiln.model"] = spec.name;
  train::Trainer trainer(graph, config);  // locks the run directory
  start_or_resume(trainer, o);
  std::cerr << "kiln train: " << spec.name << " on " << device.str() << ", "
            << train_data.size() << " training and " << test_data.size() << " test images, "
            << graph.params().size() << " parameter tensors; epochs " << trainer.epochs_done() + 1
            << ".." << o.epochs << " into " << run_dir << "\n";
  train::DatasetSource<DeviceDataset> train_source(train_data), test_source(test_data);
  fit_until_signal(trainer, train_source, test_source, o, run_dir);
}

void train_text(const TrainOptions& o, train::TrainConfig config, const Device& device,
                const graph::GraphOptions& graph_options, const std::string& run_dir) {
  const train::TextModelTraits traits = train::text_model_traits(o.model);
  const train::TextTask task = train::text_task(o.data, traits.sequence_labels);
  const train::TextVocabs vocabs =
      o.resume.empty() ? train::build_vocabs(task, o.data, o.min_count, traits.features)
                       : train::load_vocabs(task, run_dir, traits.features);
  graph::ModelSpec spec;
  graph::Graph graph =
      graph::load_model(o.model, device, graph_options, &spec, train::data_sizes(vocabs, task));
  if (!o.init.empty()) train::load_weights(o.init, graph);
  train::TextSplit train_split(task, o.data, "train", vocabs, device, o.batch_size, o.bptt);
  train::TextSplit test_split(task, o.data, "test", vocabs, device, o.batch_size, o.bptt);
  config.metadata["kiln.model"] = spec.name;
  config.metadata["kiln.task"] = train::text_task_name(task);
  train::Trainer trainer(graph, config);  // locks the run directory
  start_or_resume(trainer, o);
  if (o.resume.empty()) train::save_vocabs(vocabs, task, run_dir);
  std::cerr << "kiln train: " << spec.name << " (" << train::text_task_name(task) << ") on "
            << device.str() << ", " << train_split.tokens() << " training and "
            << test_split.tokens() << " test tokens in " << train_split.sequences() << " and "
            << test_split.sequences() << " " << (task == train::TextTask::classification ? "texts" : "sentences")
            << ", " << vocabs.words->size() << " words";
  if (vocabs.targets) {
    std::cerr << ", " << vocabs.targets->size()
              << (task == train::TextTask::tagging ? " tags" : " labels");
  }
  std::cerr << "; epochs " << trainer.epochs_done() + 1 << ".." << o.epochs << " into " << run_dir
            << "\n";
  fit_until_signal(trainer, train_split.source(), test_split.source(), o, run_dir);
}

void run_train(const TrainOptions& o, const CLI::App& cmd) {
  KILN_CHECK(!o.out.empty() || !o.resume.empty(), "give --out RUN_DIR (or --resume RUN_DIR)");
  KILN_CHECK(o.out.empty() || o.resume.empty() || o.out == o.resume,
             "--out and --resume name different directories; a resumed run continues in place");
  const std::string run_dir = o.resume.empty() ? o.out : o.resume;
  // A new run never overwrites a saved one (checked again under the run's lock).
  KILN_CHECK(!o.resume.empty() || !std::filesystem::exists(train::weights_path(run_dir)),
             run_dir, " already holds a trained model (", train::weights_path(run_dir),
             "); continue it with --resume ", run_dir, " or choose another --out");
  uint64_t seed = o.seed;
  if (!o.resume.empty()) {
    const train::RunState state = train::read_run_state(o.resume);
    KILN_CHECK(cmd.count("--seed") == 0 || state.seed == o.seed, "--seed ", o.seed,
               " differs from the run's seed ", state.seed, "; leave --seed out to resume");
    KILN_CHECK(state.epoch < o.epochs, run_dir, " already has ", state.epoch,
               " epochs; pass --epochs N with N > ", state.epoch, " to train further");
    seed = state.seed;
  }
  const train::TrainConfig config = train_config(o, run_dir, seed);
  train::validate(config);  // before the slow parts
  KILN_CHECK(o.bptt >= 1, "--bptt must be positive, got ", o.bptt);
  const Device device = resolve_device(o.device);
  graph::GraphOptions graph_options;
  graph_options.engine = parse_engine(o.device.engine);
  graph_options.deterministic = o.device.deterministic;
  graph_options.seed = seed;
  if (train::is_text_data(o.data)) {
    train_text(o, config, device, graph_options, run_dir);
  } else {
    train_images(o, config, device, graph_options, run_dir);
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a model file on an IDX image data set or a text data set (docs/DATA.md)");
  cmd->add_option("model", o->model, "model file (YAML), e.g. models/lenet5.yaml")->required();
  cmd->add_option("--data", o->data,
                  "directory with {train,t10k}-{images,labels} IDX files, or train.tsv and "
                  "test.tsv (tagging, classification), or train.txt and test.txt (language model)")
      ->required();
  cmd->add_option("--out", o->out, "run directory: checkpoints and metrics.jsonl");
  cmd->add_option("--resume", o->resume, "continue the run in this run directory");
  cmd->add_option("--init", o->init, "start from the weights in this safetensors file");
  add_device_options(cmd, o->device);
  cmd->add_option("--epochs", o->epochs, "epochs in total")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "images or sequences per step (language models: parallel streams)")->capture_default_str();
  cmd->add_option("--lr", o->lr, "base learning rate")->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "sgd or adam")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  cmd->add_option("--momentum", o->momentum, "sgd momentum")->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "L2 weight decay")->capture_default_str();
  cmd->add_option("--beta1", o->beta1, "adam beta1")->capture_default_str();
  cmd->add_option("--beta2", o->beta2, "adam beta2")->capture_default_str();
  cmd->add_option("--lr-schedule", o->schedule, "constant, step or cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--lr-step-epochs", o->lr_step_epochs, "step schedule: epochs per decay")
      ->capture_default_str();
  cmd->add_option("--lr-gamma", o->lr_gamma, "step schedule: decay factor")->capture_default_str();
  cmd->add_option("--clip-norm", o->clip_norm, "clip gradients to this global L2 norm (0: off)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "initialisation, data order and dropout")
      ->check(unsigned_64())
      ->capture_default_str();
  cmd->add_option("--augment-shift", o->augment_shift,
                  "random translation of up to N pixels per image, drawn on the device")
      ->capture_default_str();
  cmd->add_option("--log-every", o->log_every, "steps between progress updates")
      ->capture_default_str();
  cmd->add_option("--bptt", o->bptt,
                  "language models: steps per chunk of truncated backpropagation through time")
      ->capture_default_str();
  cmd->add_option("--min-count", o->min_count,
                  "text: words seen fewer times in the training split become <unk>")
      ->capture_default_str();
  cmd->callback([o, cmd] {
    apply_recipe(*cmd, graph::read_model_spec(o->model));
    run_train(*o, *cmd);
  });
}

}  // namespace kiln::cli
