// Many-to-one sequence pooling on every device against the naive reference, a
// finite-difference check of the reference, and argument errors.
#include "kiln/ops/sequence_pool.h"

#include <string>
#include <tuple>

#include "kiln/error.h"
#include "reference/gradient_check.h"
#include "reference/sequence_pool.h"
#include "support/op_test.h"

namespace kiln {
namespace {

using reference::SequencePoolCase;
using reference::to_double;
using test::all_close;

struct NamedPoolCase {
  std::string name;
  SequencePoolCase s;
};

std::vector<NamedPoolCase> pool_cases() {
  return {{"T1_B1", {1, 1, 4, {1}}},
          {"unequal_lengths", {5, 4, 6, {5, 1, 3, 2}}},
          {"zero_length", {3, 3, 2, {0, 3, 1}}},
          {"features_above_256", {4, 2, 300, {2, 4}}}};
}

using PoolParam = std::tuple<Device, SequencePool, NamedPoolCase>;
class SequencePoolTest : public testing::TestWithParam<PoolParam> {};

std::vector<float> lengths_of(const SequencePoolCase& s) {
  return std::vector<float>(s.lengths.begin(), s.lengths.end());
}

TEST_P(SequencePoolTest, ForwardAndBackwardMatchReference) {
  const auto& [device, mode, named] = GetParam();
  const SequencePoolCase& s = named.s;
  const Tensor x = test::random_tensor({s.steps, s.batch, s.features}, device, 1);
  const Tensor dy = test::random_tensor({s.batch, s.features}, device, 2);
  const Tensor lengths = Tensor::from_vector(lengths_of(s), {s.batch}, device);
  Tensor y({s.batch, s.features}, device), dx({s.steps, s.batch, s.features}, device);
  ops::sequence_pool_forward(mode, x, lengths, y);
  ops::sequence_pool_backward(mode, lengths, dy, dx);
  // A mean of at most 5 values in [-1, 1) and one scaling: a few float roundings.
  EXPECT_TRUE(all_close(y.to_vector(),
                        reference::sequence_pool_forward(mode, s, to_double(x.to_vector())),
                        1e-6, 1e-6));
  EXPECT_TRUE(all_close(dx.to_vector(),
                        reference::sequence_pool_backward(mode, s, to_double(dy.to_vector())),
                        1e-7, 1e-6));
}

std::string pool_param_name(const testing::TestParamInfo<PoolParam>& info) {
  return test::device_name(std::get<0>(info.param)) + "_" +
         sequence_pool_name(std::get<1>(info.param)) + "_" + std::get<2>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Devices, SequencePoolTest,
                         testing::Combine(testing::ValuesIn(test::test_devices()),
                                          testing::Values(SequencePool::mean, SequencePool::last,
                                                          SequencePool::last_bidirectional),
                                          testing::ValuesIn(pool_cases())),
                         pool_param_name);

TEST(SequencePoolGradientCheck, ReferenceBackwardMatchesFiniteDifferences) {
  const SequencePoolCase s{4, 3, 4, {4, 1, 2}};
  const auto x = to_double(test::random_vector(48, 3));
  const auto dy = to_double(test::random_vector(12, 4));
  for (SequencePool mode :
       {SequencePool::mean, SequencePool::last, SequencePool::last_bidirectional}) {
    SCOPED_TRACE(sequence_pool_name(mode));
    EXPECT_TRUE(reference::gradients_agree(
        reference::sequence_pool_backward(mode, s, dy),
        reference::numeric_gradient(
            [&](const std::vector<double>& at) {
              return reference::sequence_pool_forward(mode, s, at);
            },
            x, dy)));
  }
}

TEST(SequencePoolErrors, RejectsBadShapesAndLengths) {
  const Device cpu = Device::cpu();
  const Tensor x = Tensor::zeros({3, 2, 4}, cpu);
  Tensor y = Tensor::zeros({2, 4}, cpu);
  const Tensor lengths = Tensor::from_vector({3, 1}, {2}, cpu);
  EXPECT_THROW(ops::sequence_pool_forward(SequencePool::mean, x,
                                          Tensor::from_vector({3, 1, 1}, {3}, cpu), y),
               Error);
  Tensor y_bad = Tensor::zeros({2, 5}, cpu);
  EXPECT_THROW(ops::sequence_pool_forward(SequencePool::mean, x, lengths, y_bad), Error);
  EXPECT_THROW(ops::sequence_pool_forward(SequencePool::mean, Tensor::zeros({6, 4}, cpu),
                                          lengths, y),
               Error);
  for (float bad : {4.0f, -1.0f, 1.5f}) {
    EXPECT_THROW(ops::sequence_pool_forward(SequencePool::last, x,
                                            Tensor::from_vector({bad, 1}, {2}, cpu), y),
                 Error)
        << bad;
  }
  const Tensor odd = Tensor::zeros({3, 2, 3}, cpu);
  Tensor y_odd = Tensor::zeros({2, 3}, cpu);
  EXPECT_THROW(ops::sequence_pool_forward(SequencePool::last_bidirectional, odd, lengths, y_odd),
               Error);
  EXPECT_THROW(parse_sequence_pool("max"), Error);
}

}  // namespace
}  // namespace kiln
