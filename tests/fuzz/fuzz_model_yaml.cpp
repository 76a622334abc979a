// libFuzzer harness: model files, parsed and turned into layers of a graph
// (add_model_yaml). Not build(): building allocates the parameters a model asks
// for, and a few bytes of YAML can legitimately ask for terabytes. Malformed
// files must give kiln::Error only. The data sizes a text model names ($words, ...)
// are given, so the shipped text models parse to the end.
#include <cstdint>
#include <string>

#include "kiln/error.h"
#include "kiln/graph/graph.h"
#include "kiln/graph/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const kiln::graph::DataSizes sizes{{"words", 50}, {"tags", 7},     {"labels", 2},
                                            {"lower", 40},  {"suffix2", 9}, {"suffix3", 20},
                                            {"shape", 5}};
  kiln::graph::Graph graph(kiln::Device::cpu());
  try {
    kiln::graph::add_model_yaml(graph, std::string(reinterpret_cast<const char*>(data), size),
                                "fuzz.yaml", sizes);
  } catch (const kiln::Error&) {
  }
  return 0;
}
