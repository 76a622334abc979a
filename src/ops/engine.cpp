#include "kiln/ops/engine.h"

#include "kiln/error.h"

namespace kiln {

Engine parse_engine(const std::string& name) {
  if (name == "native") return Engine::native;
  if (name == "cudnn") return Engine::cudnn;
  throw Error("unknown engine '" + name + "': expected native or cudnn");
}

const char* engine_name(Engine engine) { return engine == Engine::cudnn ? "cudnn" : "native"; }

void check_engine(const char* op, Engine engine, const Device& device) {
  KILN_CHECK(engine == Engine::native || device.is_cuda(), op, ": engine cudnn runs only on a ",
             "cuda device, not ", device.str(), "; use --engine native");
}

}  // namespace kiln
