#include "cpu/gather_tokens.h"

#include <algorithm>

namespace kiln::cpu {

void gather_tokens(const ops::TokenSource& source, const ops::TokenBatch& batch,
                   const ops::TokenOutputs& out) {
  const int64_t width = batch.batch;
  for (int64_t b = 0; b < width; ++b) {
    const int64_t s = batch.order[batch.first + b];
    const int64_t valid = std::clamp<int64_t>(source.lengths[s] - batch.start, 0, batch.steps);
    const int64_t from = source.offsets[s] + batch.start;
    for (int64_t t = 0; t < batch.steps; ++t) {
      out.ids[t * width + b] = t < valid ? source.ids[from + t] : batch.pad_id;
      if (out.tags) out.tags[t * width + b] = t < valid ? source.tags[from + t] : batch.pad_tag;
    }
    out.lengths[b] = static_cast<float>(valid);
    if (out.labels) out.labels[b] = source.labels[s];
  }
}

}  // namespace kiln::cpu
