#include "kiln/ops/gather_tokens.h"

#include "cpu/gather_tokens.h"
#include "kiln/error.h"
#include "ops/kernels.h"

namespace kiln::ops {

void gather_tokens(const Device& device, const TokenSource& source, const TokenBatch& batch,
                   const TokenOutputs& out) {
  KILN_CHECK(batch.batch >= 1 && batch.steps >= 1 && batch.start >= 0 && batch.first >= 0,
             "gather_tokens: batch ", batch.batch, ", steps ", batch.steps, ", start ",
             batch.start, ", first ", batch.first, " (need batch, steps >= 1, start, first >= 0)");
  KILN_CHECK(source.ids && source.offsets && source.lengths && batch.order && out.ids && out.lengths,
             "gather_tokens: ids, offsets, lengths, order and the ids/lengths outputs are required");
  KILN_CHECK((source.tags == nullptr) == (out.tags == nullptr), "gather_tokens: tags must be ",
             "given as a source and an output, or neither");
  KILN_CHECK((source.labels == nullptr) == (out.labels == nullptr), "gather_tokens: labels must ",
             "be given as a source and an output, or neither");
  if (device.is_cpu()) return cpu::gather_tokens(source, batch, out);
  KILN_KERNEL(device, gather_tokens, source, batch, out);
}

}  // namespace kiln::ops
