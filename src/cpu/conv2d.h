// CPU backend of conv2d, two versions chosen per pass like the GPU kernels
// (ConvKernel; rule in docs/KERNELS.md): a direct register-blocked convolution
// (cpu/conv2d_direct.h) and the GEMM formulation, batched im2col + one OpenBLAS sgemm
// per group and chunk of samples (ConvKernel::implicit_gemm on cpu). OpenMP over the
// batch (threading policy: src/cpu/blas.h). Layouts and semantics as in
// include/kiln/ops/conv2d.h.
#pragma once

#include <cstdint>

#include "kiln/ops/conv2d.h"

namespace kiln::cpu {
// bias may be null.
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, ConvKernel kernel);
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                          ConvKernel kernel);
// Deterministic in both versions: the batch is cut into filter_chunks() chunks by
// shape alone (independent of the thread count), each summed in order, then the
// chunks are summed in order.
void conv2d_backward_filter(const Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw, ConvKernel kernel);
void conv2d_backward_bias(const Conv2dGeometry& g, const float* dy, float* db);

// Shared by both versions.
// Items [begin, end) of n for part `t` of `parts` (contiguous ranges).
void thread_range(int n, int t, int parts, int& begin, int& end);
// Chunks of a batch of n for backward-filter: each holds at least min_units_per_chunk
// units of work (where possible), and there are at most 16 of them.
int filter_chunks(int n, int64_t units_per_sample, int64_t min_units_per_chunk);
// dw[i] = sum over chunks of partial[chunk * size + i], in chunk order. A worksharing
// loop: call it from every thread of a parallel region.
void sum_chunks(const float* partial, int chunks, int64_t size, float* dw);
}  // namespace kiln::cpu
