// Token batch gather: every device equals the reference exactly (a copy, no
// arithmetic), for tagging batches (start 0, padding), later chunks of long sequences
// (start > 0, sequences ending inside and before the chunk), with and without tags and
// labels; argument errors.
#include "kiln/ops/gather_tokens.h"

#include <string>
#include <tuple>

#include "kiln/error.h"
#include "kiln/runtime.h"
#include "reference/gather_tokens.h"
#include "support/op_test.h"

namespace kiln {
namespace {

struct GatherTokensCase {
  std::string name;
  std::vector<int32_t> lengths;  // of the source sequences
  std::vector<int32_t> order;
  int64_t first;
  int batch, steps;
  int64_t start;
  bool with_tags, with_labels;
};

std::vector<GatherTokensCase> gather_tokens_cases() {
  return {{"one_token", {1}, {0}, 0, 1, 1, 0, true, false},
          {"tagging_padded", {5, 2, 7, 1, 3}, {4, 2, 0, 1, 3}, 1, 3, 7, 0, true, true},
          {"chunk_start3", {9, 2, 5, 4}, {3, 0, 1, 2}, 0, 4, 3, 3, true, false},
          {"ids_only_odd", {3, 11, 6}, {1, 2, 0, 1}, 1, 3, 11, 0, false, true},
          {"wide_batch", std::vector<int32_t>(300, 2), std::vector<int32_t>(300, 7), 0, 300, 2, 0, true, true}};
}

template <class T>
rt::Buffer to_device(const std::vector<T>& host, const Device& device) {
  rt::Buffer buffer(device, host.size() * sizeof(T));
  rt::copy(buffer.data(), device, host.data(), Device::cpu(), host.size() * sizeof(T));
  return buffer;
}

using GatherTokensParam = std::tuple<Device, GatherTokensCase>;
class GatherTokensTest : public testing::TestWithParam<GatherTokensParam> {};

TEST_P(GatherTokensTest, EqualsReference) {
  const auto& [device, c] = GetParam();
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (int32_t n : c.lengths) {
    offsets.push_back(total);
    total += n;
  }
  const std::vector<float> ids = test::random_vector(total, 1, 2, 1000);
  const std::vector<float> tags = test::random_vector(total, 2, 0, 40);
  const std::vector<float> labels = test::random_vector(c.lengths.size(), 3, 0, 5);
  const Tensor d_ids = Tensor::from_vector(ids, {total}, device);
  const Tensor d_tags = Tensor::from_vector(tags, {total}, device);
  const Tensor d_labels = Tensor::from_vector(labels, {static_cast<int64_t>(labels.size())}, device);
  const rt::Buffer d_offsets = to_device(offsets, device), d_lengths = to_device(c.lengths, device);
  const rt::Buffer d_order = to_device(c.order, device);
  Tensor out_ids({c.steps, c.batch}, device), out_tags({c.steps, c.batch}, device);
  Tensor out_lengths({c.batch}, device), out_labels({c.batch}, device);
  const ops::TokenSource source{d_ids.data(), c.with_tags ? d_tags.data() : nullptr,
                                c.with_labels ? d_labels.data() : nullptr, d_offsets.as<int64_t>(),
                                d_lengths.as<int32_t>()};
  const ops::TokenBatch batch{d_order.as<int32_t>(), c.first, c.batch, c.steps, c.start, 0.0f, -1.0f};
  const ops::TokenOutputs out{out_ids.data(), c.with_tags ? out_tags.data() : nullptr, out_lengths.data(),
                              c.with_labels ? out_labels.data() : nullptr};
  ops::gather_tokens(device, source, batch, out);
  const reference::GatheredTokens want = reference::gather_tokens(
      ids, tags, labels, offsets, c.lengths, c.order, c.first, c.batch, c.steps, c.start, 0.0f, -1.0f);
  EXPECT_EQ(out_ids.to_vector(), want.ids);
  EXPECT_EQ(out_lengths.to_vector(), want.lengths);
  if (c.with_tags) {
    EXPECT_EQ(out_tags.to_vector(), want.tags);
  }
  if (c.with_labels) {
    EXPECT_EQ(out_labels.to_vector(), want.labels);
  }
}

TEST(GatherTokens, RejectsBadArguments) {
  const Device device = Device::cpu();
  float value = 0;
  int32_t index = 0;
  int64_t offset = 0;
  const ops::TokenSource source{&value, nullptr, nullptr, &offset, &index};
  const ops::TokenOutputs out{&value, nullptr, &value, nullptr};
  const ops::TokenBatch empty{&index, 0, 0, 1, 0, 0, 0}, negative_start{&index, 0, 1, 1, -1, 0, 0};
  const ops::TokenBatch one{&index, 0, 1, 1, 0, 0, 0};
  EXPECT_THROW(ops::gather_tokens(device, source, empty, out), Error);
  EXPECT_THROW(ops::gather_tokens(device, source, negative_start, out), Error);
  const ops::TokenOutputs with_tags{&value, &value, &value, nullptr};  // tags out, no tags in
  EXPECT_THROW(ops::gather_tokens(device, source, one, with_tags), Error);
  ops::gather_tokens(device, source, one, out);
  EXPECT_EQ(value, 0.0f);
}

std::string gather_tokens_param_name(const testing::TestParamInfo<GatherTokensParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, GatherTokensTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::ValuesIn(gather_tokens_cases())),
                         gather_tokens_param_name);

}  // namespace
}  // namespace kiln
