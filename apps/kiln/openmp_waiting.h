// How kiln's OpenMP threads wait between parallel regions. libgomp's default
// spins up to ~300,000 iterations before sleeping; on a machine shared with other
// work the spinning threads take the cores the working ones need (a LeNet-5 step
// went from 8 to 82 ms on 2 busy cores). The CLI makes passive waiting the default
// unless the user chose a policy (docs: README, "Threads").
#pragma once

#include <string>

namespace kiln::cli {

// "OMP_WAIT_POLICY=passive (kiln's default)" or the user's setting, for `kiln devices`.
std::string openmp_wait_policy();

}  // namespace kiln::cli
