// The CPU recurrent GEMM (cpu/rnn_gemm.h) in every instruction-set variant the machine
// supports, against a double-precision product: awkward batches (1, 3, 17: below, at and
// past a tile's rows), widths that are not whole panels or vectors, both packings, A stored
// as is or transposed (rnn_transpose), strided operands, overwrite and accumulate; and bit-identical results
// for any thread count.
#include "cpu/rnn_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "support/cpu_isa.h"
#include "support/op_test.h"

namespace kiln {
namespace {

struct GemmCase {
  int m, n, k;
  Transpose trans_a, trans_w;
  bool accumulate;
};

std::vector<float> uniform(std::size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// op(W)[kk][col] of a row-major W whose rows are `ldw` floats apart.
float weight(const std::vector<float>& w, Transpose trans_w, int ldw, int kk, int col) {
  return trans_w == Transpose::no ? w[static_cast<std::size_t>(kk) * ldw + col]
                                  : w[static_cast<std::size_t>(col) * ldw + kk];
}

// Runs one case (A, stored as is or transposed, and C with padded rows, to check the strides
// and that C's padding is left alone) and compares every element with the double product.
// The float sum of k products plus C's old value is within (k + 1) u (sum |a w| + |c|) of the exact value,
// u = 2^-24 (Higham, Accuracy and Stability, 3.1; FMA or not); the bound is used as is.
void check_case(const GemmCase& g, uint32_t seed) {
  // A as is: rows padded to lda; transposed: a contiguous [k, m] that rnn_transpose turns
  // into a contiguous [m, k], as the layer's weight gradients do.
  const bool plain = g.trans_a == Transpose::no;
  const int lda = plain ? g.k + 3 : g.k, ldc = g.n + 5;
  const int64_t a_row = plain ? lda : 1, a_col = plain ? 1 : g.m;
  const int ldw = g.trans_w == Transpose::no ? g.n : g.k;
  const int w_rows = g.trans_w == Transpose::no ? g.k : g.n;
  const std::vector<float> a =
      uniform(plain ? static_cast<std::size_t>(g.m) * lda : static_cast<std::size_t>(g.k) * g.m,
              seed);
  const std::vector<float> w = uniform(static_cast<std::size_t>(w_rows) * ldw, seed + 1);
  const std::vector<float> c0 = uniform(static_cast<std::size_t>(g.m) * ldc, seed + 2);
  std::vector<float> packed(static_cast<std::size_t>(cpu::rnn_packed_floats(g.k, g.n)));
  cpu::rnn_pack_weights(g.trans_w, w.data(), ldw, g.k, g.n, packed.data());
  std::vector<float> a_t(plain ? 0 : a.size());
  if (!plain) cpu::rnn_transpose(a.data(), g.k, g.m, a_t.data());
  std::vector<float> c = c0;
  cpu::rnn_gemm_packed(g.m, g.n, g.k, plain ? a.data() : a_t.data(), lda, packed.data(),
                       g.accumulate, c.data(), ldc);
  const double u = std::ldexp(1.0, -24);
  for (int r = 0; r < g.m; ++r) {
    for (int col = 0; col < ldc; ++col) {
      const std::size_t at = static_cast<std::size_t>(r) * ldc + col;
      if (col >= g.n) {
        ASSERT_EQ(c[at], c0[at]) << "padding of C row " << r << " column " << col;
        continue;
      }
      double exact = g.accumulate ? c0[at] : 0.0, magnitude = std::fabs(exact);
      for (int kk = 0; kk < g.k; ++kk) {
        const double p = static_cast<double>(a[r * a_row + kk * a_col]) *
                         weight(w, g.trans_w, ldw, kk, col);
        exact += p;
        magnitude += std::fabs(p);
      }
      ASSERT_NEAR(c[at], exact, (g.k + 1) * u * magnitude)
          << "C[" << r << "][" << col << "] of m " << g.m << " n " << g.n << " k " << g.k;
    }
  }
}

class RnnGemmTest : public testing::TestWithParam<cpu::Isa> {
 protected:
  test::ScopedIsa isa_{GetParam()};
};

TEST_P(RnnGemmTest, MatchesDoubleProductOnAwkwardShapes) {
  uint32_t seed = 1;
  for (int m : {1, 3, 17}) {
    for (int n : {1, 5, 16, 37, 148}) {
      for (int k : {1, 7, 37, 64}) {
        for (Transpose ta : {Transpose::no, Transpose::yes}) {
          for (Transpose tw : {Transpose::no, Transpose::yes}) {
            for (bool accumulate : {false, true}) {
              SCOPED_TRACE(std::string(ta == Transpose::no ? "A " : "A^T ") +
                           (tw == Transpose::no ? "W" : "W^T") +
                           (accumulate ? " accumulate" : " overwrite"));
              check_case({m, n, k, ta, tw, accumulate}, seed += 3);
            }
          }
        }
      }
    }
  }
}

// A product big enough to be split between threads (cpu/rnn_gemm.cpp) gives the same bits
// on one thread and on all of them.
TEST_P(RnnGemmTest, SameBitsForAnyThreadCount) {
  const int m = 17, n = 1024, k = 256;
  const std::vector<float> a = uniform(static_cast<std::size_t>(m) * k, 7);
  const std::vector<float> w = uniform(static_cast<std::size_t>(n) * k, 8);
  std::vector<float> packed(static_cast<std::size_t>(cpu::rnn_packed_floats(k, n)));
  cpu::rnn_pack_weights(Transpose::yes, w.data(), k, k, n, packed.data());
  const int threads = omp_get_max_threads();
  std::vector<float> one(static_cast<std::size_t>(m) * n), all(one.size());
  omp_set_num_threads(1);
  cpu::rnn_gemm_packed(m, n, k, a.data(), k, packed.data(), false, one.data(), n);
  omp_set_num_threads(std::max(2, threads));
  cpu::rnn_gemm_packed(m, n, k, a.data(), k, packed.data(), false, all.data(), n);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, all);
}

INSTANTIATE_TEST_SUITE_P(Isas, RnnGemmTest, testing::ValuesIn(cpu::supported_isas()),
                         [](const testing::TestParamInfo<cpu::Isa>& info) {
                           return std::string("cpu_") + cpu::isa_name(info.param);
                         });

}  // namespace
}  // namespace kiln
