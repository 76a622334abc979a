// Which implementation an op uses on a cuda device: kiln's own kernels (native) or
// the cuDNN reference path. cuDNN is chosen explicitly and only exists on cuda;
// asking for it elsewhere is an error, never a silent fallback.
#pragma once

#include <string>

#include "kiln/device.h"

namespace kiln {

enum class Engine { native, cudnn };

Engine parse_engine(const std::string& name);  // "native" or "cudnn"
const char* engine_name(Engine engine);
// Throws a kiln::Error naming `op` unless `engine` can run on `device`.
void check_engine(const char* op, Engine engine, const Device& device);

}  // namespace kiln
