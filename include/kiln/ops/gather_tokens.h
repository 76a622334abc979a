// Gathers a time-major batch of token sequences from token streams resident on the
// device, through an index plan also resident there (docs/DATA.md, "Sequence batches").
// For b in [0, batch) and t in [0, steps), with s = order[first + b] and
// n = clamp(lengths[s] - start, 0, steps) (the valid steps of sequence s in this batch):
//   ids_out[t * batch + b]  = t < n ? ids[offsets[s] + start + t]  : pad_id
//   tags_out[t * batch + b] = t < n ? tags[offsets[s] + start + t] : pad_tag   (if tags)
//   lengths_out[b] = n;  labels_out[b] = labels[s]                              (if labels)
// Tagging batches use start 0; a language-model chunk k of `bptt` steps uses
// start = k * bptt, the streams as sequences and tags = ids + 1 (the next token).
// Values are floats (class ids as floats, exact below 2^24); no host synchronisation.
#pragma once

#include <cstdint>

#include "kiln/device.h"

namespace kiln::ops {

struct TokenSource {
  const float* ids = nullptr;      // [total tokens]
  const float* tags = nullptr;     // [total tokens] or null
  const float* labels = nullptr;   // [sequences] or null
  const int64_t* offsets = nullptr;  // [sequences]: first token of each sequence
  const int32_t* lengths = nullptr;  // [sequences]
};

struct TokenBatch {
  const int32_t* order = nullptr;  // sequence ids in batch order (the epoch's plan)
  int64_t first = 0;               // position of the batch's first sequence in `order`
  int32_t batch = 0, steps = 0;    // B and T of the output
  int64_t start = 0;               // first step within each sequence
  float pad_id = 0.0f, pad_tag = 0.0f;
};

struct TokenOutputs {
  float* ids = nullptr;      // [T, B]
  float* tags = nullptr;     // [T, B] (when the source has tags)
  float* lengths = nullptr;  // [B]
  float* labels = nullptr;   // [B] (when the source has labels)
};

// Every pointer is device memory of `device`. Checks shapes only (the callers own the
// buffers' sizes): batch >= 1, steps >= 1, start >= 0, and tags/labels given on both
// sides or on neither.
void gather_tokens(const Device& device, const TokenSource& source, const TokenBatch& batch,
                   const TokenOutputs& out);

}  // namespace kiln::ops
