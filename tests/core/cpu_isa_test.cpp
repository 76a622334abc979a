// The CPU instruction-set variants (src/cpu/isa.h): KILN_CPU_ISA's values, forcing a
// variant, and what the machine supports.
#include "cpu/isa.h"

#include <gtest/gtest.h>

#include <string>

#include "kiln/error.h"

namespace kiln::cpu {
namespace {

TEST(CpuIsaTest, BaselineIsAlwaysSupportedAndListedFirst) {
  ASSERT_FALSE(supported_isas().empty());
  EXPECT_EQ(supported_isas().front(), Isa::baseline);
  EXPECT_TRUE(isa_supported(active_isa()));
}

TEST(CpuIsaTest, ParsesEverySupportedVariantByName) {
  for (Isa isa : supported_isas()) EXPECT_EQ(parse_isa(isa_name(isa)), isa);
}

TEST(CpuIsaTest, UnknownValueNamesTheVariableAndTheChoices) {
  try {
    parse_isa("sse9");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("KILN_CPU_ISA=sse9"), std::string::npos) << what;
    EXPECT_NE(what.find("avx512, avx2 or baseline"), std::string::npos) << what;
  }
}

// Only a machine without AVX-512 (or AVX2) can show this; elsewhere it is skipped.
TEST(CpuIsaTest, UnsupportedVariantIsRefused) {
  for (Isa isa : {Isa::avx512, Isa::avx2}) {
    if (isa_supported(isa)) continue;
    EXPECT_THROW(parse_isa(isa_name(isa)), Error);
    EXPECT_THROW(set_isa(isa), Error);
    return;
  }
  GTEST_SKIP() << "this CPU supports every variant";
}

TEST(CpuIsaTest, SetIsaForcesTheVariantAndSaysWhy) {
  const Isa saved = active_isa();
  for (Isa isa : supported_isas()) {
    set_isa(isa);
    EXPECT_EQ(active_isa(), isa);
    EXPECT_NE(active_isa_reason().find(isa_name(isa)), std::string::npos);
  }
  set_isa(saved);
}

}  // namespace
}  // namespace kiln::cpu
