// The recurrent layers' per-step products on the CPU, C[M,N] = A[M,K] W (+ C), with M the
// batch (1..64 typically), K and N the hidden size or four times it, and W the same W_hh on
// every one of the T steps. A general GEMM (OpenBLAS) repacks W on each call, which costs as
// much as the product at these sizes; here W is packed once per layer call into panels of
// kRnnPanel columns (rnn_pack_weights), and every step runs register tiles over the panels
// (rnn_gemm_packed). Each element of C sums over k in order on one thread: results are
// deterministic and the same for any thread count (they depend on the ISA variant, cpu/isa.h,
// as FMA rounds differently from a multiply and an add).
#pragma once

#include <cstdint>

#include "kiln/gemm.h"

namespace kiln::cpu {

constexpr int kRnnPanel = 16;  // columns per packed panel: one AVX-512 vector

// Floats that rnn_pack_weights writes for a [K, N] operand (N rounded up to whole panels).
int64_t rnn_packed_floats(int k, int n);

// Packs op(W) [K, N] from a row-major W: W[k * ldw + n] (Transpose::no) or W[n * ldw + k]
// (Transpose::yes). Panel p holds columns 16p .. 16p+15 as K rows of 16 floats, zero-padded.
void rnn_pack_weights(Transpose trans_w, const float* w, int ldw, int k, int n, float* packed);

// C[M,N] (row-major, leading dimension ldc) = A[M,K] times the packed operand, plus C's old
// values when `accumulate`. A's element (r, k) is a[r * a_row + k * a_col], so A may be a
// row-major matrix (a_row = lda, a_col = 1) or the transpose of one (a_row = 1, a_col = lda).
// Runs the active ISA variant's tiles; splits the tiles between OpenMP threads when the
// product is large enough to pay for a parallel region.
void rnn_gemm_packed(int m, int n, int k, const float* a, int64_t a_row, int64_t a_col,
                     const float* packed, bool accumulate, float* c, int ldc);

}  // namespace kiln::cpu
