// Token batch gather (include/kiln/ops/gather_tokens.h): one thread per output element
// (t, b), grid-stride over the T x B batch in time-major order, so consecutive threads
// write consecutive floats (coalesced) and read the B sequences' tokens at step t
// (scattered: one read per sequence, from the uploaded corpus); threads with t == 0
// also write the batch's lengths and labels. No shared memory.
// Memory-bound and tiny: a 32 x 50 tagging batch moves ~20 KB; launch latency
// dominates, which is why the index plan (order, offsets, lengths) stays on the
// device and nothing is uploaded per step.
// Versions: v1 (this) plain grid-stride copy.
#include "kernels/common.cuh"
#include "kernels/gather_tokens.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;

__global__ void gather_tokens_kernel(ops::TokenSource source, ops::TokenBatch batch,
                                     ops::TokenOutputs out) {
  KILN_GRID_STRIDE_LOOP(i, int64_t{batch.steps} * batch.batch) {
    const int64_t t = i / batch.batch, b = i % batch.batch;
    const int64_t s = batch.order[batch.first + b];
    int64_t valid = source.lengths[s] - batch.start;
    valid = valid < 0 ? 0 : (valid > batch.steps ? batch.steps : valid);
    const int64_t from = source.offsets[s] + batch.start + t;
    out.ids[i] = t < valid ? source.ids[from] : batch.pad_id;
    if (out.tags) out.tags[i] = t < valid ? source.tags[from] : batch.pad_tag;
    if (t == 0) {
      out.lengths[b] = static_cast<float>(valid);
      if (out.labels) out.labels[b] = source.labels[s];
    }
  }
}

}  // namespace

void gather_tokens(const ops::TokenSource& source, const ops::TokenBatch& batch,
                   const ops::TokenOutputs& out, rt::Stream s) {
  const dim3 grid = grid_stride_grid(int64_t{batch.steps} * batch.batch, kThreads);
  launch(gather_tokens_kernel, grid, dim3(kThreads), 0, s, source, batch, out);
}

}  // namespace kiln::KILN_BACKEND
