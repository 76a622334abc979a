// libFuzzer harness: model files, parsed and turned into layers of a graph
// (add_model_yaml). Not build(): building allocates the parameters a model asks
// for, and a few bytes of YAML can legitimately ask for terabytes. Malformed
// files must give kiln::Error only.
#include <cstdint>
#include <string>

#include "kiln/error.h"
#include "kiln/graph/graph.h"
#include "kiln/graph/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  kiln::graph::Graph graph(kiln::Device::cpu());
  try {
    kiln::graph::add_model_yaml(graph, std::string(reinterpret_cast<const char*>(data), size),
                                "fuzz.yaml");
  } catch (const kiln::Error&) {
  }
  return 0;
}
