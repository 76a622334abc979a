#include <gtest/gtest.h>

#include "kiln/philox.h"

namespace kiln {
namespace {

// Known-answer vectors for Philox4x32-10 published with Random123 (Salmon et al.).
TEST(Philox, KnownAnswers) {
  struct Kat {
    philox::Block counter;
    uint32_t k0, k1;
    philox::Block expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Kat& kat : kats) {
    const philox::Block got = philox::philox4x32_10(kat.counter, kat.k0, kat.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], kat.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, StreamElementsComeFromConsecutiveCounters) {
  const philox::Block b = philox::generate(42, 10);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(philox::bits(42, 8, 8 + i), b.v[i]);
  EXPECT_NE(philox::bits(42, 0, 0), philox::bits(43, 0, 0));
}

TEST(Philox, UniformIsInUnitIntervalWithSaneMean) {
  double total = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float u = philox::uniform(7, 0, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    total += u;
  }
  EXPECT_NEAR(total / n, 0.5, 0.005);  // 5 standard errors of the mean (0.29/sqrt(n))
}

}  // namespace
}  // namespace kiln
