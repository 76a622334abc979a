// Entry points into the CUDA runtime layer (src/cuda), which exists only in builds
// with KILN_HAVE_CUDA. Core code calls these instead of including CUDA headers;
// without CUDA, src/core/no_cuda.cpp provides versions that report why.
#pragma once

#include <string>

#include "kiln/runtime.h"

namespace kiln::cuda_hooks {

int device_count(std::string* why_none);
GpuInfo gpu_info(int index);
rt::DeviceRuntime& runtime(int index);

void* event_create(int index);
void event_destroy(void* event);
void event_record(void* event, int index);
void event_synchronize(void* event);
float event_elapsed_ms(void* start, void* end);

}  // namespace kiln::cuda_hooks
