#include "kiln/ops/embedding.h"

#include <cstring>
#include <vector>

#include "cpu/embedding.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln::ops {

namespace {

constexpr const char* kOp = "embedding";
constexpr unsigned long long kClear = ~0ull;
constexpr int64_t kMaxVocab = int64_t{1} << 24;       // ids are floats: exact below 2^24
constexpr int64_t kMaxPositions = int64_t{1} << 31;  // positions fit the status word

std::string id_error(const char* where, int64_t position, float id, int64_t vocab) {
  return detail::concat(where, ": id ", id, " at position ", position,
                        " is not an integer in [0, ", vocab,
                        "); check the vocabulary size and the data's token ids");
}

void check_table(const Tensor& table) {
  check_defined(kOp, table, "table");
  KILN_CHECK(table.rank() == 2 && table.dim(0) >= 1 && table.dim(1) >= 1, kOp,
             ": the table must be [vocab, dim] with both >= 1, got ", shape_str(table.shape()));
  KILN_CHECK(table.dim(0) <= kMaxVocab, kOp, ": vocab ", table.dim(0),
             " is above 2^24, the largest id floats hold exactly");
}

// ids [N...] and y (or dy) [N..., E] on one device.
void check_rows(const Tensor& ids, const Tensor& table, const Tensor& y, const char* y_name) {
  check_defined(kOp, ids, "ids");
  check_defined(kOp, y, y_name);
  check_same_device(kOp, ids, table);
  check_same_device(kOp, ids, y);
  KILN_CHECK(ids.rank() >= 1 && ids.numel() >= 1 && ids.numel() < kMaxPositions, kOp,
             ": ids must hold 1 to 2^31-1 ids, got ", shape_str(ids.shape()));
  Shape expected = ids.shape();
  expected.push_back(table.dim(1));
  KILN_CHECK(y.shape() == expected, kOp, ": ", y_name, " is ", shape_str(y.shape()),
             " but ids ", shape_str(ids.shape()), " and table ", shape_str(table.shape()),
             " need ", shape_str(expected));
}

void throw_if_bad(const float* ids, int64_t n, int64_t vocab, const char* where) {
  const int64_t bad = cpu::embedding_first_bad_id(ids, n, vocab);
  if (bad >= 0) throw Error(id_error(where, bad, ids[bad], vocab));
}

}  // namespace

EmbeddingStatus::EmbeddingStatus(const Device& device)
    : word_(device, sizeof(unsigned long long)) {
  clear();
}

void EmbeddingStatus::clear() {
  rt::runtime(device()).copy_from_host(word_.data(), &kClear, sizeof kClear);
}

void EmbeddingStatus::check(const char* where) const {
  unsigned long long word = kClear;
  rt::runtime(device()).copy_to_host(&word, word_.data(), sizeof word);
  if (word == kClear) return;
  const auto bits = static_cast<uint32_t>(word & 0xffffffffull);
  float id;
  std::memcpy(&id, &bits, sizeof id);
  throw Error(detail::concat(where, ": ", kOp, " kernels saw a bad id: ", id, " at position ",
                             word >> 32, " (the smallest bad position since the status was ",
                             "cleared); its row was zero and got no gradient. Run ",
                             "embedding_check_ids on the data to find every bad id"));
}

void embedding_check_ids(const Tensor& ids, int64_t vocab) {
  check_defined(kOp, ids, "ids");
  const std::vector<float> host = ids.to_vector();
  const int64_t bad = cpu::embedding_first_bad_id(host.data(), ids.numel(), vocab);
  if (bad >= 0) throw Error(id_error("embedding_check_ids", bad, host[bad], vocab));
}

void embedding_forward(const Tensor& ids, const Tensor& table, Tensor& y,
                       EmbeddingStatus* status) {
  check_table(table);
  check_rows(ids, table, y, "y");
  const int64_t n = ids.numel(), vocab = table.dim(0);
  const int dim = static_cast<int>(table.dim(1));
  if (ids.device().is_cpu()) {
    throw_if_bad(ids.data(), n, vocab, "embedding_forward");
    return cpu::embedding_forward(ids.data(), table.data(), y.data(), n, dim);
  }
  if (status) KILN_CHECK(status->device() == ids.device(), kOp, ": status on ",
                         status->device().str(), " but ids on ", ids.device().str());
  KILN_KERNEL(ids.device(), embedding_forward, ids.data(), table.data(), y.data(), n, dim, vocab,
              status ? status->word() : nullptr);
}

void embedding_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable, int padding_idx,
                        EmbeddingStatus* status) {
  check_table(dtable);
  check_rows(ids, dtable, dy, "dy");
  const int64_t n = ids.numel(), vocab = dtable.dim(0);
  const int dim = static_cast<int>(dtable.dim(1));
  KILN_CHECK(padding_idx == kNoPaddingIdx || (padding_idx >= 0 && padding_idx < vocab), kOp,
             ": padding_idx ", padding_idx, " must be -1 (none) or in [0, ", vocab, ")");
  if (ids.device().is_cpu()) {
    throw_if_bad(ids.data(), n, vocab, "embedding_backward");
    return cpu::embedding_backward(ids.data(), dy.data(), dtable.data(), n, vocab, dim,
                                   padding_idx);
  }
  if (status) KILN_CHECK(status->device() == ids.device(), kOp, ": status on ",
                         status->device().str(), " but ids on ", ids.device().str());
  rt::Buffer keys(ids.device(),
                  sizeof(unsigned long long) * simt_kernels::embedding_key_slots(n));
  KILN_KERNEL(ids.device(), embedding_backward, ids.data(), dy.data(), dtable.data(),
              keys.as<unsigned long long>(), n, vocab, dim, padding_idx,
              status ? status->word() : nullptr);
}

}  // namespace kiln::ops
