// libFuzzer harness: safetensors files (checkpoints, --init, --weights) loaded
// onto the cpu device. Malformed files must give kiln::Error only.
#include <cstdint>

#include "fuzz/fuzz_file.h"
#include "kiln/data/safetensors.h"
#include "kiln/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string& path = kiln::fuzz::input_file(data, size);
  try {
    kiln::load_safetensors(path, kiln::Device::cpu());
  } catch (const kiln::Error&) {
  }
  return 0;
}
