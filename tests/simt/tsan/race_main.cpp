// A kernel that forgets its __syncthreads, run under the ThreadSanitizer build
// of the emulator. check_race.cmake runs it twice: `race_main racy` must get a
// TSan data race report naming the marked write and read lines, `race_main fixed`
// none. The markers are how the script finds those lines.
#define KILN_BACKEND simt_kernels
#include "kernels/compat.cuh"

#include <cstdio>
#include <cstring>
#include <vector>

__global__ void shift_left(const float* in, float* out, int n, bool synced) {
  __shared__ float tile[128];
  const int t = static_cast<int>(threadIdx.x);
  const int i = static_cast<int>(blockIdx.x * blockDim.x) + t;
  tile[t] = i < n ? in[i] : 0.0f;  // RACE-WRITE
  if (synced) __syncthreads();
  if (i < n) out[i] = tile[(t + 1) % blockDim.x];  // RACE-READ
}

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "racy") != 0 && std::strcmp(argv[1], "fixed") != 0)) {
    std::fprintf(stderr, "usage: %s racy|fixed\n", argv[0]);
    return 2;
  }
  const bool synced = std::strcmp(argv[1], "fixed") == 0;
  const int n = 200;
  std::vector<float> in(n), out(n, 0.0f);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  kiln::simt::launch_kernel(shift_left, dim3(2), dim3(128), 0, in.data(), out.data(), n,
                            synced);
  double sum = 0;
  for (float v : out) sum += v;  // host reads after the launch: must not be a race
  std::printf("%s: sum %.1f\n", argv[1], sum);
  return 0;
}
