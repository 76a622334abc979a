// Launchers of kernels/gather_tokens.cu. No include guard: src/ops/kernels.h includes
// this once per kernel build (KILN_BACKEND = simt_kernels, cuda_kernels).
#include "kiln/ops/gather_tokens.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// The time-major token batch of include/kiln/ops/gather_tokens.h.
void gather_tokens(const ops::TokenSource& source, const ops::TokenBatch& batch,
                   const ops::TokenOutputs& out, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
