// The cuda hooks of a build without nvcc: no GPU can be used, and every attempt
// says how to get one.
#if !KILN_HAVE_CUDA

#include "core/cuda_hooks.h"
#include "kiln/error.h"

namespace kiln::cuda_hooks {

namespace {
const char* const kNotBuilt =
    "kiln was built without CUDA (KILN_CUDA=OFF or nvcc not found); rebuild with "
    "-DKILN_CUDA=ON to use a GPU, or choose --device cpu or simt";
[[noreturn]] void not_built() { throw Error(kNotBuilt); }
}  // namespace

int device_count(std::string* why_none) {
  if (why_none) *why_none = kNotBuilt;
  return 0;
}
GpuInfo gpu_info(int) { not_built(); }
rt::DeviceRuntime& runtime(int) { not_built(); }
void* event_create(int) { not_built(); }
void event_destroy(void*) {}
void event_record(void*, int) { not_built(); }
void event_synchronize(void*) { not_built(); }
float event_elapsed_ms(void*, void*) { not_built(); }

}  // namespace kiln::cuda_hooks

#endif
