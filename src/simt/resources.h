// Per-kernel resource limits a GPU enforces at launch: __launch_bounds__ and
// shared memory (static + dynamic) with and without the opt-in.
#pragma once

#include <cstddef>

#include "simt/simt.h"

namespace kiln::simt::detail {

// Throws KernelError if a GPU would refuse the launch. Expects the launch mutex.
void check_resources(dim3 block, std::size_t dynamic_smem, const LaunchInfo& info);

}  // namespace kiln::simt::detail
