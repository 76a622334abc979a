// Launchers of kernels/embedding.cu (no include guard: see kernels/elementwise.h).
// ids [n] as floats, table / dtable [vocab, dim], y / dy [n, dim]. `status` (may be
// null) receives atomicMin(position << 32 | id bits) for every bad id.
#include <cstdint>

#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// y[p, :] = table[ids[p], :], or zeros for a bad id.
void embedding_forward(const float* ids, const float* table, float* y, int64_t n, int dim,
                       int64_t vocab, unsigned long long* status, rt::Stream stream);
// Sort keys embedding_backward needs as scratch for n ids (n rounded up to 2^k).
int64_t embedding_key_slots(int64_t n);
// dtable (overwritten) row v = sum of dy over positions with id v in increasing
// position order; zero for padding_idx (-1: none). keys: embedding_key_slots(n).
void embedding_backward(const float* ids, const float* dy, float* dtable,
                        unsigned long long* keys, int64_t n, int64_t vocab, int dim,
                        int padding_idx, unsigned long long* status, rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
