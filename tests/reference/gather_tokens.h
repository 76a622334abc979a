// Token batch gather reference: the formula of include/kiln/ops/gather_tokens.h,
// element by element on the host.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kiln::reference {

struct GatheredTokens {
  std::vector<float> ids, tags, lengths, labels;
};

inline GatheredTokens gather_tokens(const std::vector<float>& ids, const std::vector<float>& tags,
                                    const std::vector<float>& labels, const std::vector<int64_t>& offsets,
                                    const std::vector<int32_t>& lengths, const std::vector<int32_t>& order,
                                    int64_t first, int batch, int steps, int64_t start, float pad_id,
                                    float pad_tag) {
  GatheredTokens out{std::vector<float>(steps * batch), std::vector<float>(steps * batch),
                     std::vector<float>(batch), std::vector<float>(batch)};
  for (int b = 0; b < batch; ++b) {
    const int32_t s = order[first + b];
    const int64_t valid = std::min<int64_t>(std::max<int64_t>(lengths[s] - start, 0), steps);
    for (int t = 0; t < steps; ++t) {
      const bool inside = t < valid;
      out.ids[t * batch + b] = inside ? ids[offsets[s] + start + t] : pad_id;
      out.tags[t * batch + b] = inside ? tags[offsets[s] + start + t] : pad_tag;
    }
    out.lengths[b] = static_cast<float>(valid);
    out.labels[b] = labels[s];
  }
  return out;
}

}  // namespace kiln::reference
