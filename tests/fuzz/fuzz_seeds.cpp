// fuzz_seeds MODELS_DIR FASHION_MNIST_DIR OUT_DIR: writes the seed corpora of the
// fuzz harnesses from real files, so none are committed as binaries:
//   OUT/idx/        a selector byte (0 images, 1 labels) + an IDX file as stored:
//                   the first Fashion-MNIST images and labels, plain and gzip;
//   OUT/idx_gzip/   a selector byte + the plain IDX bytes (the harness gzips);
//   OUT/safetensors a checkpoint of a small model written by kiln's own writer;
//   OUT/model_yaml  the model files in MODELS_DIR;
//   OUT/text        a selector byte + a small file of each text format and vocabulary.
// Without Fashion-MNIST, small synthetic IDX files take its place.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "kiln/data/dataset.h"
#include "kiln/data/idx.h"
#include "kiln/data/safetensors.h"
#include "kiln/error.h"
#include "kiln/graph/model_file.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_seed(const fs::path& path, uint8_t selector, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.put(static_cast<char>(selector));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

kiln::ImageDataset first_items(const std::string& fashion_dir) {
  kiln::ImageDataset data;
  if (fs::exists(fashion_dir + "/train-images-idx3-ubyte.gz")) {
    return kiln::take(kiln::load_image_split(fashion_dir, "train"), 0, 3);
  }
  data.images.count = 3;
  data.images.rows = data.images.cols = 5;
  for (int i = 0; i < 75; ++i) data.images.pixels.push_back(static_cast<uint8_t>(i * 7));
  data.labels = {1, 7, 9};
  return data;
}

void idx_seeds(const std::string& fashion_dir, const fs::path& out) {
  const kiln::ImageDataset data = first_items(fashion_dir);
  fs::create_directories(out / "idx");
  fs::create_directories(out / "idx_gzip");
  for (const std::string suffix : {"", ".gz"}) {
    const fs::path images = out / ("images" + suffix), labels = out / ("labels" + suffix);
    kiln::write_idx_images(images.string(), data.images);
    kiln::write_idx_labels(labels.string(), data.labels);
    write_seed(out / "idx" / ("images" + suffix), 0, read_bytes(images));
    write_seed(out / "idx" / ("labels" + suffix), 1, read_bytes(labels));
    if (suffix.empty()) {
      write_seed(out / "idx_gzip" / "images", 0, read_bytes(images));
      write_seed(out / "idx_gzip" / "labels", 1, read_bytes(labels));
    }
    fs::remove(images);
    fs::remove(labels);
  }
}

// A checkpoint of a small convolutional model, with the metadata kiln writes.
void safetensors_seeds(const fs::path& out) {
  fs::create_directories(out / "safetensors");
  kiln::graph::Graph g(kiln::Device::cpu());
  kiln::graph::add_model_yaml(g, R"(
layers:
  - {name: data, type: input, shape: [1, 6, 6]}
  - {name: conv1, type: conv2d, out_channels: 2, kernel: 3}
  - {name: flatten, type: flatten}
  - {name: fc1, type: linear, out_features: 3}
)");
  g.build();
  std::vector<kiln::NamedTensor> tensors;
  for (kiln::graph::Param* p : g.params()) tensors.push_back({p->name, &p->value});
  kiln::save_safetensors((out / "safetensors" / "model").string(), tensors,
                         {{"format", "pt"}, {"kiln.input_mean", "0.286"},
                          {"kiln.input_stddev", "0.353"}, {"kiln.checkpoint", "1"}});
  kiln::save_safetensors((out / "safetensors" / "scalar").string(), {{"s", &g.params()[1]->value}});
}

void yaml_seeds(const fs::path& models, const fs::path& out) {
  fs::create_directories(out / "model_yaml");
  for (const auto& entry : fs::directory_iterator(models)) {
    if (entry.path().extension() == ".yaml") {
      fs::copy_file(entry.path(), out / "model_yaml" / entry.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
}

void text_seeds(const fs::path& out) {
  fs::create_directories(out / "text");
  const std::pair<const char*, std::string> seeds[] = {
      {"tagged", std::string(1, '\0') + "The\tat\nJury\tnn\n1,000\tcd\n\nna\xc3\xafve\tjj\n"},
      {"sentences", std::string(1, '\1') + "the jury said .\r\nit was <unk> !\n"},
      {"labelled", std::string(1, '\2') + "spam\tfree offer now\nham\tmeeting at noon\n"},
      {"words", std::string(1, '\3') + "<pad>\n<unk>\nthe\njury\n"},
      {"tags", std::string(1, '\4') + "at\nnn\ncd\n"}};
  for (const auto& [name, bytes] : seeds) std::ofstream(out / "text" / name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fuzz_seeds MODELS_DIR FASHION_MNIST_DIR OUT_DIR\n";
    return 2;
  }
  try {
    fs::remove_all(argv[3]);
    idx_seeds(argv[2], argv[3]);
    safetensors_seeds(argv[3]);
    yaml_seeds(argv[1], argv[3]);
    text_seeds(argv[3]);
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
