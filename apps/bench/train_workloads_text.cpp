// The text workloads of kiln_bench_train, at the sizes of issue 9's speed targets:
//   bilstm_tagger  models/bilstm_tagger.yaml (five embeddings of 128 summed, BiLSTM 256
//                  per direction, dropout, per-step linear over the tags), batch 32 of
//                  full-length sentences;
//   lstm_lm        models/lstm_lm.yaml (embedding 128, LSTM 256, linear over the Brown
//                  vocabulary), batch 64 streams of bptt 35, the state carried from step
//                  to step without gradient as in truncated BPTT.
// Both use their recipes' optimiser (Adam 1e-3, gradient norm clipped at 5). The
// libtorch peers are torch::nn::Embedding, LSTM and Linear with the same sizes.
#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "kiln/graph/model_file.h"
#include "kiln/philox.h"
#include "kiln/tensor.h"
#include "train_workloads.h"

#if KILN_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace kiln::bench {

namespace {

constexpr float kLearningRate = 1e-3f, kClipNorm = 5.0f;
constexpr int64_t kEmbedding = 128, kHidden = 256;

// An id input of the model: its name in the model file, its vocabulary size and its first
// id drawn (words skip <pad> and <unk>; tags have no reserved ids).
struct IdInput {
  std::string name;
  int64_t size;
  int64_t first = 2;
};

std::vector<IdInput> tagger_features(const TextShape& s) {
  return {{"words", s.tagger_words},     {"lower", s.tagger_lower}, {"suffix2", s.tagger_suffix2},
          {"suffix3", s.tagger_suffix3}, {"shape", s.tagger_shape}};
}

// Fixed id streams per input, the same for kiln and libtorch.
std::vector<float> ids_of(const IdInput& input, int64_t numel, uint64_t stream) {
  return random_ids(numel, input.first, input.size, stream);
}

train::OptimizerConfig adam() {
  train::OptimizerConfig config;
  config.kind = train::OptimizerKind::adam;
  config.clip_norm = kClipNorm;
  return config;
}

void fill_ids(graph::Graph& graph, const std::vector<IdInput>& inputs) {
  uint64_t stream = 0;
  for (const IdInput& input : inputs) {
    Tensor& t = graph.input(input.name);
    t.copy_from(Tensor::from_vector(ids_of(input, t.numel(), stream++), t.shape(), Device::cpu()));
  }
}

std::unique_ptr<KilnStep> kiln_tagger(const TextShape& s, const Device& device) {
  graph::DataSizes sizes{{"tags", s.tagger_tags}};
  std::vector<IdInput> inputs = tagger_features(s);
  for (const IdInput& input : inputs) sizes[input.name] = input.size;
  inputs.push_back({"tags", s.tagger_tags, 0});
  graph::Graph graph = graph::load_model("models/bilstm_tagger.yaml", device, {}, nullptr, sizes);
  graph.set_batch(s.tagger_batch, s.tagger_steps);
  fill_ids(graph, inputs);
  graph.input("lengths").copy_from(Tensor::from_vector(
      std::vector<float>(s.tagger_batch, static_cast<float>(s.tagger_steps)), {s.tagger_batch},
      Device::cpu()));
  return std::make_unique<KilnStep>(std::move(graph), adam(), kLearningRate, false);
}

std::unique_ptr<KilnStep> kiln_lm(const TextShape& s, const Device& device) {
  graph::Graph graph = graph::load_model("models/lstm_lm.yaml", device, {}, nullptr,
                                         {{"words", s.lm_words}});
  graph.set_batch(s.lm_batch, s.lm_bptt);
  fill_ids(graph, {{"words", s.lm_words}, {"next_words", s.lm_words}});
  return std::make_unique<KilnStep>(std::move(graph), adam(), kLearningRate, true);
}

// GEMM flops of a training step: forward, data and weight gradients, 3 x 2 m n k each.
double lstm_gflop(int64_t tokens, int64_t directions, int64_t features) {
  return 3.0 * directions * 2.0 * tokens * 4 * kHidden * (features + kHidden) / 1e9;
}
double linear_gflop(int64_t tokens, int64_t in, int64_t out) {
  return 3.0 * 2.0 * tokens * in * out / 1e9;
}

#if KILN_HAVE_TORCH
namespace nn = torch::nn;

torch::Tensor ids_tensor(const IdInput& input, int64_t steps, int64_t batch, uint64_t stream) {
  return torch::from_blob(ids_of(input, steps * batch, stream).data(), {steps, batch})
      .to(torch::kLong);
}

struct TaggerNet : nn::Module {
  explicit TaggerNet(const TextShape& s) {
    for (const IdInput& input : tagger_features(s)) {
      embeds.push_back(register_module(
          input.name, nn::Embedding(nn::EmbeddingOptions(input.size, kEmbedding).padding_idx(0))));
    }
    lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(kEmbedding, kHidden).bidirectional(true)));
    out = register_module("out", nn::Linear(2 * kHidden, s.tagger_tags));
  }
  torch::Tensor forward(const std::vector<torch::Tensor>& ids) {
    torch::Tensor x = embeds[0](ids[0]);
    for (size_t i = 1; i < embeds.size(); ++i) x = x + embeds[i](ids[i]);
    return out(torch::dropout(std::get<0>(lstm(x)), 0.5, is_training()));
  }
  std::vector<nn::Embedding> embeds;
  nn::LSTM lstm{nullptr};
  nn::Linear out{nullptr};
};

struct LmNet : nn::Module {
  explicit LmNet(int64_t words) {
    embed = register_module("embed", nn::Embedding(words, kEmbedding));
    lstm = register_module("lstm", nn::LSTM(kEmbedding, kHidden));
    out = register_module("out", nn::Linear(kHidden, words));
  }
  nn::Embedding embed{nullptr};
  nn::LSTM lstm{nullptr};
  nn::Linear out{nullptr};
};

torch::optim::Adam torch_adam(nn::Module& net) {
  return torch::optim::Adam(net.parameters(), torch::optim::AdamOptions(kLearningRate));
}

void update(torch::optim::Adam& adam, nn::Module& net, const torch::Tensor& loss) {
  adam.zero_grad();
  loss.backward();
  nn::utils::clip_grad_norm_(net.parameters(), kClipNorm);
  adam.step();
}

std::function<void()> torch_tagger(const TextShape& s) {
  struct State {
    std::shared_ptr<TaggerNet> net;
    torch::optim::Adam adam;
    std::vector<torch::Tensor> ids;
    torch::Tensor tags;
  };
  auto net = std::make_shared<TaggerNet>(s);
  auto state = std::make_shared<State>(State{net, torch_adam(*net), {}, {}});
  uint64_t stream = 0;
  for (const IdInput& input : tagger_features(s))
    state->ids.push_back(ids_tensor(input, s.tagger_steps, s.tagger_batch, stream++));
  state->tags = ids_tensor({"tags", s.tagger_tags, 0}, s.tagger_steps, s.tagger_batch, stream).view(-1);
  const int64_t tags = s.tagger_tags;
  return [state, tags] {
    const torch::Tensor logits = state->net->forward(state->ids).view({-1, tags});
    update(state->adam, *state->net,
           torch::nn::functional::cross_entropy(
               logits, state->tags, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1)));
  };
}

std::function<void()> torch_lm(const TextShape& s) {
  struct State {
    std::shared_ptr<LmNet> net;
    torch::optim::Adam adam;
    torch::Tensor words, next_words;
    torch::optional<std::tuple<torch::Tensor, torch::Tensor>> carried;  // c10::optional in this libtorch
  };
  auto net = std::make_shared<LmNet>(s.lm_words);
  auto state = std::make_shared<State>(State{
      net, torch_adam(*net), ids_tensor({"words", s.lm_words}, s.lm_bptt, s.lm_batch, 0),
      ids_tensor({"next_words", s.lm_words}, s.lm_bptt, s.lm_batch, 1).view(-1), {}});
  const int64_t words = s.lm_words;
  return [state, words] {
    LmNet& net = *state->net;
    auto [hidden, final_state] = net.lstm(net.embed(state->words), state->carried);
    state->carried = std::make_tuple(std::get<0>(final_state).detach(), std::get<1>(final_state).detach());
    update(state->adam, net,
           torch::cross_entropy_loss(net.out(hidden).view({-1, words}), state->next_words));
  };
}
#endif

}  // namespace

std::vector<float> random_ids(int64_t numel, int64_t first, int64_t size, uint64_t stream) {
  std::vector<float> ids(numel);
  for (int64_t i = 0; i < numel; ++i) {
    const auto id = first + static_cast<int64_t>(philox::uniform(11, stream, i) * (size - first));
    ids[i] = static_cast<float>(std::min(id, size - 1));
  }
  return ids;
}

// The vocabularies `kiln train` builds from data/brown-pos (the tagger's recipe: min count
// 2) and data/brown-lm (RUN/words.txt, RUN/feature.*.txt, RUN/tags.txt line counts).
TextShape brown_text_shape() {
  TextShape s;
  s.tagger_words = 24539, s.tagger_lower = 22435, s.tagger_suffix2 = 626;
  s.tagger_suffix3 = 3010, s.tagger_shape = 158, s.tagger_tags = 190;
  s.lm_words = 13191;
  return s;
}

std::vector<std::string> text_models() { return {"bilstm_tagger", "lstm_lm"}; }

Workload text_workload(const std::string& name, const TextShape& s) {
  Workload w;
  w.name = name;
  w.unit = "tokens";
  w.repeats = 10;
  if (name == "bilstm_tagger") {
    w.items_per_step = s.tagger_batch * s.tagger_steps;
    w.gflop = lstm_gflop(w.items_per_step, 2, kEmbedding) +
              linear_gflop(w.items_per_step, 2 * kHidden, s.tagger_tags);
    w.kiln = [s](const Device& device) { return kiln_tagger(s, device); };
#if KILN_HAVE_TORCH
    w.torch = [s] { return torch_tagger(s); };
#endif
    return w;
  }
  if (name == "lstm_lm") {
    w.items_per_step = s.lm_batch * s.lm_bptt;
    w.gflop = lstm_gflop(w.items_per_step, 1, kEmbedding) +
              linear_gflop(w.items_per_step, kHidden, s.lm_words);
    w.kiln = [s](const Device& device) { return kiln_lm(s, device); };
#if KILN_HAVE_TORCH
    w.torch = [s] { return torch_lm(s); };
#endif
    return w;
  }
  throw std::invalid_argument("no text workload '" + name + "'");
}

}  // namespace kiln::bench
