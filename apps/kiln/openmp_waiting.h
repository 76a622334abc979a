// How kiln's OpenMP threads wait between parallel regions. libgomp's default spins up to
// 300,000 iterations before sleeping: fastest on an idle machine, but on a busy one the
// spinning threads take the cores the working ones need (a LeNet-5 step went from 6-8 to
// 79-154 ms beside one compiler job). Sleeping at once (OMP_WAIT_POLICY=passive) costs
// each parallel region a wake-up instead (idle: +9% on LeNet-5, +80% on caffe_lenet). So
// unless the user chose a policy, the CLI waits passively when the machine is already
// busy as it starts (1-minute load average at or above KILN_BUSY_LOAD_AVERAGE, default
// 0.5) and keeps libgomp's default otherwise (README, "Threads").
#pragma once

#include <string>

namespace kiln::cli {

// The policy in force and why, for `kiln devices`.
std::string openmp_wait_policy();

}  // namespace kiln::cli
