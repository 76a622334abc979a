// Inverted dropout: out = in * scale on kept elements, 0 on dropped ones; the keep
// decision for element i is philox::uniform(seed, offset, i) >= p, a pure function
// of (seed, offset, i), so the backward recomputes the mask instead of storing it
// and every device draws the same one. scale = 1/(1-p) is computed once on the host.
// Block: 256 threads, one element per grid-stride step; no shared memory.
// Philox-10 costs ~40 integer ops per element, so the kernel sits near the
// compute/memory balance point; each thread could use all 4 words of a Philox block
// (a v2) but the 4x cheaper RNG has not been needed yet.
// Versions: v1 only.
#include "kernels/common.cuh"
#include "kernels/dropout.h"
#include "kiln/philox.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

__global__ void dropout_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t n,
                               float p, float scale, uint64_t seed, uint64_t offset) {
  KILN_GRID_STRIDE_LOOP(i, n) {
    const bool keep = philox::uniform(seed, offset, static_cast<uint64_t>(i)) >= p;
    out[i] = keep ? in[i] * scale : 0.0f;
  }
}

}  // namespace

void dropout_apply(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                   uint64_t offset, rt::Stream s) {
  launch(dropout_kernel, grid_stride_grid(n, kThreads), dim3(kThreads), 0, s, in, out, n, p,
         scale, seed, offset);
}

}  // namespace kiln::KILN_BACKEND
