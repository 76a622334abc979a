// The recurrent layers' GEMMs on the CPU, C[M,N] = A[M,K] op(B) (+ C). The per-step ones have
// M the batch (1..64 typically), K and N the hidden size or four times it, and B the same W_hh
// on every one of the T steps: a general GEMM (OpenBLAS) repacks B on each call, which costs as
// much as the product at these sizes. Here B is packed once per layer call into panels of
// kRnnPanel columns (rnn_pack_weights) and every product runs register tiles over the panels
// (rnn_gemm_packed); the layer's large GEMMs (input projection, weight and input gradients) use
// the same tiles, whose AVX-512 variant outruns the AVX2 kernels OpenBLAS picks on AMD EPYC.
// Each element of C sums over k in order on one thread: results are deterministic and the same
// for any thread count (they depend on the ISA variant, cpu/isa.h, as FMA rounds differently
// from a multiply and an add).
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

// C[M,N] (row-major, leading dimension ldc) = A[M,K] (row-major, leading dimension lda) times
// the packed operand, plus C's old values when `accumulate`. Runs the active ISA variant's
// tiles; splits the tiles between OpenMP threads when the product is large enough to pay for
// a parallel region.
void rnn_gemm_packed(int m, int n, int k, const float* a, int lda, const float* packed,
                     bool accumulate, float* c, int ldc);

// dst[cols, rows] = src[rows, cols]^T (both contiguous), in cache blocks: a transposed A is
// copied so before rnn_gemm_packed, whose broadcasts would otherwise stride across pages.
void rnn_transpose(const float* src, int rows, int cols, float* dst);

}  // namespace kiln::cpu
