// Planted bugs for the sanitizer build of the emulator (ThreadSanitizer plus the
// bounds check, -fsanitize=bounds). check_race.cmake runs it three times:
// `race_main racy` (a kernel that forgets its __syncthreads) must get a TSan data race
// report naming the marked write and read lines, `race_main fixed` no report, and
// `race_main overrun` (a read one past a static __shared__ array, which lands in the
// emulator's neighbouring static and would pass unseen) a bounds report naming the
// marked line. The markers are how the script finds those lines.
#define KILN_BACKEND simt_kernels
#include "kernels/compat.cuh"

#include <cstdio>
#include <string>
#include <vector>

__global__ void shift_left(const float* in, float* out, int n, bool synced) {
  __shared__ float tile[128];
  const int t = static_cast<int>(threadIdx.x);
  const int i = static_cast<int>(blockIdx.x * blockDim.x) + t;
  tile[t] = i < n ? in[i] : 0.0f;  // RACE-WRITE
  if (synced) __syncthreads();
  if (i < n) out[i] = tile[(t + 1) % blockDim.x];  // RACE-READ
}

__global__ void neighbour_sum(const float* in, float* out) {
  __shared__ float tile[128];
  const int t = static_cast<int>(threadIdx.x);
  tile[t] = in[t];
  __syncthreads();
  out[t] = tile[t] + tile[t + 1];  // OVERRUN
}

int main(int argc, char** argv) {
  const std::string mode = argc == 2 ? argv[1] : "";
  if (mode != "racy" && mode != "fixed" && mode != "overrun") {
    std::fprintf(stderr, "usage: %s racy|fixed|overrun\n", argv[0]);
    return 2;
  }
  const int n = 200;
  std::vector<float> in(n), out(n, 0.0f);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  if (mode == "overrun") {
    kiln::simt::launch_kernel(neighbour_sum, dim3(1), dim3(128), 0, in.data(), out.data());
  } else {
    kiln::simt::launch_kernel(shift_left, dim3(2), dim3(128), 0, in.data(), out.data(), n,
                              mode == "fixed");
  }
  double sum = 0;
  for (float v : out) sum += v;  // host reads after the launch: must not be a race
  std::printf("%s: sum %.1f\n", mode.c_str(), sum);
  return 0;
}
