// Embedding lookup: y[..., E] = table[ids[...], :] for a table [V, E].
//
// Ids are carried as floats, as softmax_cross_entropy's labels are: graph values are
// float tensors, and every integer below 2^24 is exact in float (so V <= 2^24). An id
// is valid when it is an integer in [0, V).
//
// Bad ids never cause an out-of-bounds read:
//   cpu       - the op throws a kiln::Error naming the id and its position.
//   simt/cuda - the kernels must not synchronise with the host, so they write zeros for
//               a bad id's row (forward; backward ignores it) and record the smallest
//               bad position and its id in an EmbeddingStatus, if one is given.
// How the error surfaces in training: embedding_check_ids() once when the data are
// loaded (every id of the data set, a clear error before the first step), and an
// EmbeddingStatus read with check() when the metrics are read, which catches ids
// that went wrong on the device afterwards.
#pragma once

#include "kiln/runtime.h"
#include "kiln/tensor.h"

namespace kiln::ops {

constexpr int kNoPaddingIdx = -1;

// A device word holding the smallest bad position seen by embedding kernels since the
// last clear(), with the bad id's float bits: (position << 32) | bits, all ones when
// none. Smallest is order-independent, so the record is deterministic.
class EmbeddingStatus {
 public:
  explicit EmbeddingStatus(const Device& device);  // cleared
  void clear();
  // Reads the word (synchronises with the device) and throws a kiln::Error naming the
  // position and the id if a bad id was seen; `where` names the caller (a layer).
  void check(const char* where) const;
  const Device& device() const { return word_.device(); }
  // The word kernels update (unsigned long long: CUDA's 64-bit atomicMin type).
  unsigned long long* word() { return word_.as<unsigned long long>(); }

 private:
  rt::Buffer word_;
};

// Throws a kiln::Error naming the first id of `ids` (any device; copied to the host,
// so call it at data load, not per step) that is not an integer in [0, vocab).
void embedding_check_ids(const Tensor& ids, int64_t vocab);

// ids [N...] (any shape), table [V, E], y [N..., E]. A padding id's row is looked up
// like any other (as PyTorch): only its gradient is special.
void embedding_forward(const Tensor& ids, const Tensor& table, Tensor& y,
                       EmbeddingStatus* status = nullptr);

// dtable [V, E] is overwritten: row v = sum of dy over the positions whose id is v, in
// increasing position order on every device (deterministic, no float atomics), and
// zero for padding_idx (kNoPaddingIdx: none; else in [0, V)).
void embedding_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable,
                        int padding_idx = kNoPaddingIdx, EmbeddingStatus* status = nullptr);

}  // namespace kiln::ops
