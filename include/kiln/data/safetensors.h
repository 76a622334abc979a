// safetensors files (the format of Hugging Face's safetensors library, loadable by
// PyTorch users): an 8-byte little-endian header length N, N bytes of JSON
//   {"NAME": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"KEY": "VALUE", ...}}
// padded with spaces to a multiple of 8, then the raw little-endian tensor data;
// offsets are relative to the start of the data section, which they cover exactly.
// kiln writes and reads dtype F32.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/device.h"
#include "kiln/tensor.h"

namespace kiln {

struct NamedTensor {
  std::string name;
  const Tensor* tensor;
};

// Writes PATH.tmp, flushes and fsyncs it, then renames it over PATH, so a crash
// never leaves a half-written file (the old file stays until the rename). Names
// must be unique, non-empty and not "__metadata__".
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Loads every tensor onto `device`. Malformed files (short header, bad JSON,
// duplicate names, offsets out of range, overlapping, leaving holes or not matching
// the shape, unknown dtype) throw kiln::Error naming the file and the problem.
SafetensorsFile load_safetensors(const std::string& path, Device device);

}  // namespace kiln
