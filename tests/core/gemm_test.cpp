// The GEMM wrapper's cuBLAS (column-major) conventions, on every device.
#include "kiln/gemm.h"

#include <gtest/gtest.h>

#include "kiln/error.h"
#include "support/op_test.h"

namespace kiln {
namespace {

struct Case {
  Device device;
  Transpose ta, tb;
  int m, n, k, pad;  // pad: extra rows in each leading dimension
};

// Column-major element (row, col) of op(X) where X is stored with leading dim ld.
double at(const std::vector<float>& x, Transpose t, int row, int col, int ld) {
  return t == Transpose::no ? x[row + static_cast<size_t>(col) * ld] : x[col + static_cast<size_t>(row) * ld];
}

class GemmTest : public testing::TestWithParam<Case> {};

TEST_P(GemmTest, MatchesNaiveColumnMajorProduct) {
  const Case c = GetParam();
  const int a_rows = c.ta == Transpose::no ? c.m : c.k, a_cols = c.ta == Transpose::no ? c.k : c.m;
  const int b_rows = c.tb == Transpose::no ? c.k : c.n, b_cols = c.tb == Transpose::no ? c.n : c.k;
  const int lda = a_rows + c.pad, ldb = b_rows + c.pad, ldc = c.m + c.pad;
  const Tensor a = test::random_tensor({int64_t(lda) * a_cols}, c.device, 1);
  const Tensor b = test::random_tensor({int64_t(ldb) * b_cols}, c.device, 2);
  Tensor out = test::random_tensor({int64_t(ldc) * c.n}, c.device, 3);
  const std::vector<float> av = a.to_vector(), bv = b.to_vector(), c0 = out.to_vector();
  const float alpha = 0.75f, beta = -0.5f;
  gemm(c.device, c.ta, c.tb, c.m, c.n, c.k, alpha, a.data(), lda, b.data(), ldb, beta,
       out.data(), ldc);
  std::vector<double> expected(c0.begin(), c0.end());  // padding rows stay untouched
  for (int i = 0; i < c.m; ++i)
    for (int j = 0; j < c.n; ++j) {
      double acc = 0;
      for (int p = 0; p < c.k; ++p) acc += at(av, c.ta, i, p, lda) * at(bv, c.tb, p, j, ldb);
      expected[i + size_t(j) * ldc] = alpha * acc + beta * c0[i + size_t(j) * ldc];
    }
  EXPECT_TRUE(test::all_close(out.to_vector(), expected, 1e-5, 1e-5));
}

TEST(GemmArguments, LeadingDimensionsAreCheckedLikeCublas) {
  std::vector<float> a(6), b(6), c(4);
  // m=2, n=2, k=3: A is 2x3 so lda must be >= 2.
  EXPECT_THROW(gemm(Device::cpu(), Transpose::no, Transpose::no, 2, 2, 3, 1, a.data(), 1,
                    b.data(), 3, 0, c.data(), 2),
               Error);
  // With A transposed, A is stored 3x2: lda must be >= 3.
  EXPECT_THROW(gemm(Device::simt(), Transpose::yes, Transpose::no, 2, 2, 3, 1, a.data(), 2,
                    b.data(), 3, 0, c.data(), 2),
               Error);
  EXPECT_THROW(gemm(Device::cpu(), Transpose::no, Transpose::no, 2, 2, 3, 1, a.data(), 2,
                    b.data(), 3, 0, c.data(), 1),
               Error);
}

TEST(GemmRowMajor, ComputesRowMajorProducts) {
  for (const Device& d : test::test_devices()) {
    // a [2,3] times b^T, b stored row-major as [2,3].
    const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, d);
    const Tensor b = Tensor::from_vector({1, 0, 1, 0, 1, 0}, {2, 3}, d);
    Tensor c = Tensor::zeros({2, 2}, d);
    gemm_row_major(d, Transpose::no, Transpose::yes, 2, 2, 3, 1.0f, a.data(), b.data(), 0.0f,
                   c.data());
    EXPECT_EQ(c.to_vector(), (std::vector<float>{4, 2, 10, 5})) << d.str();
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const Device& d : test::test_devices())
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        out.push_back({d, ta, tb, 1, 1, 1, 0});
        out.push_back({d, ta, tb, 7, 5, 3, 0});
        out.push_back({d, ta, tb, 33, 17, 9, 2});
      }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Devices, GemmTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           const Case& c = info.param;
                           return test::device_name(c.device) +
                                  (c.ta == Transpose::no ? "_N" : "_T") +
                                  (c.tb == Transpose::no ? "N_" : "T_") + std::to_string(c.m) +
                                  "x" + std::to_string(c.n) + "x" + std::to_string(c.k) + "_pad" +
                                  std::to_string(c.pad);
                         });

}  // namespace
}  // namespace kiln
