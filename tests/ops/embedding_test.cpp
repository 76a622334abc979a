// Embedding lookup on every device against the naive reference: V = 1, E not a
// multiple of 32, repeated ids, a padding id, B = 1, more ids than one sort tile;
// the backward's bits equal the CPU's; bad ids give errors on cpu and a status
// record (zero rows, no out-of-bounds access) on the kernel devices.
#include "kiln/ops/embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/embedding.h"
#include "reference/gradient_check.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::to_double;
using test::all_close;

struct EmbeddingCase {
  std::string name;
  Shape ids_shape;  // [T, B] or any [N...]
  int vocab, dim;
  int padding_idx;
};

std::vector<EmbeddingCase> embedding_cases() {
  return {{"v1_e1", {3}, 1, 1, ops::kNoPaddingIdx},
          {"t5_b3_e37_repeats", {5, 3}, 4, 37, ops::kNoPaddingIdx},
          {"t4_b1_e33_padding", {4, 1}, 6, 33, 2},
          {"one_id_e70", {1}, 10, 70, ops::kNoPaddingIdx},
          {"rank3_padding0", {2, 3, 2}, 5, 8, 0},
          {"one_full_sort_tile", {32, 64}, 100, 5, ops::kNoPaddingIdx},
          {"two_sort_tiles_v7", {2100}, 7, 3, 6}};
}

// Ids drawn uniformly from [0, vocab); every third position holds the padding id.
std::vector<float> ids_for(const EmbeddingCase& c) {
  const std::vector<float> u = test::random_vector(numel_of(c.ids_shape), 11, 0.0f, 1.0f);
  std::vector<float> ids(u.size());
  for (std::size_t p = 0; p < u.size(); ++p) {
    ids[p] = std::floor(u[p] * c.vocab);
    if (c.padding_idx >= 0 && p % 3 == 0) ids[p] = static_cast<float>(c.padding_idx);
  }
  return ids;
}

Shape y_shape(const EmbeddingCase& c) {
  Shape shape = c.ids_shape;
  shape.push_back(c.dim);
  return shape;
}

// The most positions sharing one id.
int most_repeats(const std::vector<float>& ids) {
  std::map<float, int> counts;
  for (float id : ids) ++counts[id];
  int most = 0;
  for (const auto& entry : counts) most = std::max(most, entry.second);
  return most;
}

using EmbeddingParam = std::tuple<Device, EmbeddingCase>;
class EmbeddingTest : public testing::TestWithParam<EmbeddingParam> {};

TEST_P(EmbeddingTest, ForwardAndBackwardMatchReference) {
  const auto& [device, c] = GetParam();
  const std::vector<float> ids_host = ids_for(c);
  const Tensor ids = Tensor::from_vector(ids_host, c.ids_shape, device);
  const Tensor table = test::random_tensor({c.vocab, c.dim}, device, 2);
  const Tensor dy = test::random_tensor(y_shape(c), device, 3);
  Tensor y(y_shape(c), device), dtable({c.vocab, c.dim}, device);
  ops::EmbeddingStatus status(device);
  ops::embedding_forward(ids, table, y, &status);
  ops::embedding_backward(ids, dy, dtable, c.padding_idx, &status);
  EXPECT_NO_THROW(status.check("test"));

  // The lookup copies floats: exact.
  EXPECT_TRUE(all_close(y.to_vector(),
                        reference::embedding_forward(ids_host, to_double(table.to_vector()), c.dim),
                        0.0, 0.0));
  // A row sums k values in [-1, 1) one by one: each add rounds by at most 2^-24 times
  // a partial sum of size <= k, so the error is below k^2 2^-24.
  const double k = most_repeats(ids_host);
  EXPECT_TRUE(all_close(dtable.to_vector(),
                        reference::embedding_backward(ids_host, to_double(dy.to_vector()),
                                                      c.vocab, c.dim, c.padding_idx),
                        k * k * std::ldexp(1.0, -24), 0.0));
}

// Every device sums in increasing position order: the same bits as the CPU backend.
TEST_P(EmbeddingTest, BackwardBitsEqualCpu) {
  const auto& [device, c] = GetParam();
  const std::vector<float> ids_host = ids_for(c);
  const std::vector<float> dy_host = test::random_vector(numel_of(y_shape(c)), 3);
  std::vector<std::vector<float>> results;
  for (const Device& d : {Device::cpu(), device}) {
    Tensor dtable({c.vocab, c.dim}, d);
    ops::embedding_backward(Tensor::from_vector(ids_host, c.ids_shape, d),
                            Tensor::from_vector(dy_host, y_shape(c), d), dtable, c.padding_idx);
    results.push_back(dtable.to_vector());
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4));
}

std::string embedding_param_name(const testing::TestParamInfo<EmbeddingParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, EmbeddingTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(embedding_cases())),
                         embedding_param_name);

// Central differences of the reference forward in the table, without a padding id
// (a padding row is held constant by definition, so it has no derivative to check);
// with one, the reference backward equals the plain one with that row zeroed.
TEST(EmbeddingGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  for (const EmbeddingCase& c : embedding_cases()) {
    if (numel_of(c.ids_shape) > 64) continue;  // finite differences cost O(V E N E)
    const std::vector<float> ids = ids_for(c);
    const auto table = to_double(test::random_vector(c.vocab * c.dim, 5));
    const auto dy = to_double(test::random_vector(ids.size() * c.dim, 6));
    const auto forward = [&](const std::vector<double>& at) {
      return reference::embedding_forward(ids, at, c.dim);
    };
    const std::vector<double> plain =
        reference::embedding_backward(ids, dy, c.vocab, c.dim, ops::kNoPaddingIdx);
    EXPECT_TRUE(reference::gradients_agree(plain, reference::numeric_gradient(forward, table, dy)))
        << c.name;
    if (c.padding_idx < 0) continue;
    std::vector<double> masked = plain;
    std::fill_n(masked.begin() + c.padding_idx * c.dim, c.dim, 0.0);
    EXPECT_EQ(masked, reference::embedding_backward(ids, dy, c.vocab, c.dim, c.padding_idx))
        << c.name;
  }
}

class EmbeddingBadIdsTest : public testing::TestWithParam<Device> {};

// Positions 1 (id 7 >= V = 5) and 3 (id 2.5) are bad; the other rows are normal.
const std::vector<float> kBadIds = {1.0f, 7.0f, 4.0f, 2.5f, 0.0f};

TEST(EmbeddingBadIds, CpuThrowsNamingIdAndPosition) {
  const Device cpu = Device::cpu();
  const Tensor table = test::random_tensor({5, 3}, cpu, 1);
  Tensor y({5, 3}, cpu), dtable({5, 3}, cpu);
  const Tensor dy = test::random_tensor({5, 3}, cpu, 2);
  const Tensor ids = Tensor::from_vector(kBadIds, {5}, cpu);
  for (float bad : {7.0f, 2.5f, -1.0f, std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<float> one = {1.0f, 0.0f, bad, 4.0f, 0.0f};
    const Tensor one_bad = Tensor::from_vector(one, {5}, cpu);
    try {
      ops::embedding_forward(one_bad, table, y);
      ADD_FAILURE() << "no error for id " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("at position 2"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(ops::embedding_backward(ids, dy, dtable), Error);
  try {
    ops::embedding_check_ids(ids, 5);
    ADD_FAILURE() << "embedding_check_ids accepted id 7 with vocab 5";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("id 7 at position 1"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(ops::embedding_check_ids(Tensor::from_vector({1.0f, 7.0f, 0.0f}, {3}, cpu), 8));
}

// Kernel devices do not synchronise: bad rows are zero in y, add to no gradient row,
// and the status word holds the smallest bad position until cleared.
TEST_P(EmbeddingBadIdsTest, KernelsZeroBadRowsAndRecordTheFirst) {
  const Device& device = GetParam();
  const std::vector<float> table_host = test::random_vector(5 * 3, 1);
  const std::vector<float> dy_host = test::random_vector(5 * 3, 2);
  const Tensor ids = Tensor::from_vector(kBadIds, {5}, device);
  const Tensor table = Tensor::from_vector(table_host, {5, 3}, device);
  Tensor y({5, 3}, device), dtable({5, 3}, device);
  ops::EmbeddingStatus status(device);
  ops::embedding_forward(ids, table, y, &status);
  try {
    status.check("layer emb");
    ADD_FAILURE() << "no error recorded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("7 at position 1"), std::string::npos) << e.what();
  }
  status.clear();
  EXPECT_NO_THROW(status.check("layer emb"));
  ops::embedding_backward(ids, Tensor::from_vector(dy_host, {5, 3}, device), dtable,
                          ops::kNoPaddingIdx, &status);
  EXPECT_THROW(status.check("layer emb"), Error);

  // Expected: the valid positions 0, 2, 4 as usual, the bad ones absent.
  std::vector<float> good_ids;
  std::vector<double> y_expected(15, 0.0), good_dy;
  for (int p : {0, 2, 4}) {
    good_ids.push_back(kBadIds[p]);
    for (int c = 0; c < 3; ++c) {
      y_expected[p * 3 + c] = table_host[static_cast<int>(kBadIds[p]) * 3 + c];
      good_dy.push_back(dy_host[p * 3 + c]);
    }
  }
  EXPECT_TRUE(all_close(y.to_vector(), y_expected, 0.0, 0.0));
  // Each row gets at most one term: exact.
  EXPECT_TRUE(all_close(dtable.to_vector(),
                        reference::embedding_backward(good_ids, good_dy, 5, 3,
                                                      ops::kNoPaddingIdx),
                        0.0, 0.0));
  EXPECT_THROW(ops::embedding_check_ids(ids, 5), Error);
}

// Without a status the kernels still never read out of bounds (a read at row 1e9
// would fault) and write zero rows.
TEST_P(EmbeddingBadIdsTest, NoStatusStillZeroRows) {
  const Device& device = GetParam();
  const Tensor ids = Tensor::from_vector({1e9f, -3.0f}, {2}, device);
  const Tensor table = test::random_tensor({5, 3}, device, 1);
  Tensor y({2, 3}, device);
  ops::embedding_forward(ids, table, y);
  EXPECT_EQ(y.to_vector(), std::vector<float>(6, 0.0f));
}

std::vector<Device> kernel_devices() {
  std::vector<Device> devices;
  for (const Device& d : test::test_devices()) {
    if (d.runs_kernels()) devices.push_back(d);
  }
  return devices;
}

// Empty in the ASan build, which has no simt device (and no GPU).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EmbeddingBadIdsTest);
INSTANTIATE_TEST_SUITE_P(Devices, EmbeddingBadIdsTest, testing::ValuesIn(kernel_devices()),
                         [](const testing::TestParamInfo<Device>& info) {
                           return test::device_name(info.param);
                         });

TEST(EmbeddingErrors, RejectsBadShapesAndPadding) {
  const Device cpu = Device::cpu();
  const Tensor ids = Tensor::zeros({2, 3}, cpu), table = Tensor::zeros({4, 5}, cpu);
  Tensor y = Tensor::zeros({2, 3, 5}, cpu), y_bad = Tensor::zeros({6, 5}, cpu);
  Tensor dtable = Tensor::zeros({4, 5}, cpu);
  EXPECT_THROW(ops::embedding_forward(ids, table, y_bad), Error);
  EXPECT_THROW(ops::embedding_forward(ids, Tensor::zeros({20}, cpu), y), Error);
  EXPECT_THROW(ops::embedding_backward(ids, y_bad, dtable), Error);
  EXPECT_THROW(ops::embedding_backward(ids, y, dtable, 4), Error);
  EXPECT_THROW(ops::embedding_backward(ids, y, dtable, -2), Error);
  EXPECT_NO_THROW(ops::embedding_backward(ids, y, dtable, 3));
}

}  // namespace
}  // namespace kiln
