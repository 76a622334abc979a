// `kiln generate MODEL.yaml --weights RUN/model.safetensors --prompt "the jury"
// [--tokens N] [--temperature T] [--seed S]`: samples text from a language model. The
// prompt runs through the model as one sequence, then each sampled word is fed back
// one step at a time with the recurrent state carried. Sampling draws from
// softmax(logits / T) with Philox (seed, word index): the same seed gives the same text
// on cpu. <eos> ends a sentence (a new line); <unk> and <pad> are never drawn.
#include <cmath>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "kiln/error.h"
#include "kiln/philox.h"
#include "kiln/ops/elementwise.h"
#include "run_options.h"
#include "text_model.h"
#include "validators.h"

namespace kiln::cli {

namespace {

struct GenerateOptions {
  TrainedModelOptions trained;
  std::string vocab, prompt;
  int tokens = 50;
  float temperature = 1.0f;
  uint64_t seed = 1;
};

// Runs `ids` (one sequence) through the model and returns the last step's logits.
std::vector<float> next_logits(graph::Graph& graph, const train::InputRoles& roles,
                               const std::vector<float>& ids, bool carry) {
  const auto steps = static_cast<int64_t>(ids.size());
  graph.set_batch(1, steps);
  graph.input(roles.data).copy_from(Tensor::from_vector(ids, {steps, 1}, Device::cpu()));
  ops::fill(graph.input(roles.labels), 0.0f);  // the loss is not read
  if (!roles.lengths.empty()) ops::fill(graph.input(roles.lengths), static_cast<float>(steps));
  graph::RunContext ctx = graph.context(false, 0);
  ctx.carry_state = carry;
  graph.forward(ctx);
  const std::vector<float> all = graph.value(graph.loss_layer().inputs()[0]).to_vector();
  const std::size_t classes = all.size() / static_cast<std::size_t>(steps);
  return {all.end() - static_cast<std::ptrdiff_t>(classes), all.end()};
}

// A word drawn from softmax(logits / temperature), never <pad> or <unk>.
int32_t sample(const std::vector<float>& logits, float temperature, uint64_t seed, uint64_t index) {
  std::vector<double> p(logits.size(), 0.0);
  double top = -INFINITY, total = 0;
  for (std::size_t w = Vocab::kUnk + 1; w < logits.size(); ++w) top = std::max<double>(top, logits[w]);
  for (std::size_t w = Vocab::kUnk + 1; w < logits.size(); ++w) {
    total += p[w] = std::exp((logits[w] - top) / temperature);
  }
  double u = philox::uniform(seed, 0, index) * total;
  for (std::size_t w = Vocab::kUnk + 1; w < p.size(); ++w) {
    if ((u -= p[w]) < 0) return static_cast<int32_t>(w);
  }
  return static_cast<int32_t>(p.size() - 1);
}

void run_generate(const GenerateOptions& o) {
  TextModel m = load_text_model(o.trained, o.vocab);
  KILN_CHECK(m.task == train::TextTask::language_model, o.trained.model,
             " is not a language model (its run directory has ",
             m.task == train::TextTask::tagging ? "tags.txt" : "labels.txt", "); use kiln predict");
  const Vocab& words = *m.vocabs.words;
  const int32_t eos = words.id(kEosToken);
  KILN_CHECK(eos != Vocab::kUnk, "the vocabulary has no ", kEosToken,
             ": it does not come from a language model's training text");
  // The prompt follows a sentence end, as every sentence of the training text does.
  std::vector<float> ids{static_cast<float>(eos)};
  std::istringstream prompt(o.prompt);
  for (std::string word; prompt >> word;) {
    const int32_t id = words.id(word);
    if (id == Vocab::kUnk && word != Vocab::kUnkToken) {
      std::cerr << "kiln generate: '" << word << "' is not in the vocabulary; read as <unk>\n";
    }
    ids.push_back(static_cast<float>(id));
    std::cout << word << ' ';
  }
  const train::InputRoles roles = train::input_roles(m.graph);
  std::vector<float> logits = next_logits(m.graph, roles, ids, false);
  for (int i = 0; i < o.tokens; ++i) {
    const int32_t word = sample(logits, o.temperature, o.seed, static_cast<uint64_t>(i));
    std::cout << (word == eos ? std::string("\n") : words.token(word) + " ");
    logits = next_logits(m.graph, roles, {static_cast<float>(word)}, true);
  }
  std::cout << "\n";
  m.graph.check_device_status();
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Sample text from a trained language model");
  add_trained_model_options(cmd, o->trained, /*batched_inputs=*/false);
  add_vocab_option(cmd, o->vocab);
  cmd->add_option("--prompt", o->prompt, "words to start from (default: a sentence start)");
  cmd->add_option("--tokens", o->tokens, "words to sample")->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature,
                  "divides the logits: below 1 sharper, above 1 flatter")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "sampling seed (same seed, same text on cpu)")
      ->check(unsigned_64())
      ->capture_default_str();
  cmd->callback([o] { run_generate(*o); });
}

}  // namespace kiln::cli
