// compat.cuh: the one header every kernel file includes first.
//
// Kernel files are compiled twice: by nvcc for real GPUs (namespace
// kiln::cuda_kernels) and by g++ against the SIMT emulator (kiln::simt_kernels).
// The build defines KILN_BACKEND to the namespace; kernels and their host-side
// launchers live in kiln::KILN_BACKEND so the two builds link side by side.
//
// What differs between the two builds is confined to this header:
//   launch(kernel, grid, block, smem, stream, args...)  replaces <<<>>>
//   KILN_DYNAMIC_SHARED(T, name)                       replaces extern __shared__
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "kiln/error.h"
#include "kiln/runtime.h"

#ifndef KILN_BACKEND
#error "KILN_BACKEND must name the kernel namespace (cuda_kernels or simt_kernels)"
#endif

#if defined(__CUDACC__)

#include <cuda_runtime.h>

#define KILN_DYNAMIC_SHARED(T, name)                                   \
  extern __shared__ __align__(16) unsigned char kiln_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(kiln_dynamic_smem_)

namespace kiln::KILN_BACKEND {

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
            rt::Stream stream, Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // empty work: nothing to run
  if (smem > 0) {
    // Static and dynamic shared memory together may exceed 48 KiB only after
    // the opt-in (the emulator checks the same rule).
    cudaFuncAttributes attributes{};
    cudaError_t status = cudaFuncGetAttributes(&attributes, kernel);
    if (status == cudaSuccess && attributes.sharedSizeBytes + smem > 48 * 1024) {
      status = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem));
    }
    KILN_CHECK(status == cudaSuccess, "CUDA: cannot give a kernel ", smem,
               " bytes of dynamic shared memory (", attributes.sharedSizeBytes,
               " static): ", cudaGetErrorString(status));
  }
  kernel<<<grid, block, smem, static_cast<cudaStream_t>(stream.handle)>>>(
      std::forward<Args>(args)...);
  const cudaError_t status = cudaGetLastError();
  KILN_CHECK(status == cudaSuccess, "CUDA kernel launch failed (grid ", grid.x, "x", grid.y,
             "x", grid.z, ", block ", block.x, "x", block.y, "x", block.z, ", ", smem,
             " bytes shared): ", cudaGetErrorString(status));
}

}  // namespace kiln::KILN_BACKEND

#else  // g++ build against the emulator

#include "simt/simt.h"

#define KILN_DYNAMIC_SHARED(T, name) \
  T* name = reinterpret_cast<T*>(::kiln::simt::dynamic_shared_memory())

namespace kiln::KILN_BACKEND {

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
            rt::Stream /*stream: the emulator runs work in issue order*/, Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  // The CUDA build opts in when static + dynamic exceed 48 KiB; opting in
  // whenever there is dynamic shared memory has the same effect.
  if (smem > 0) ::kiln::simt::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), smem);
  ::kiln::simt::launch_kernel(kernel, grid, block, smem, std::forward<Args>(args)...);
}

}  // namespace kiln::KILN_BACKEND

#endif

// Both builds must see CUDA's qualifiers and no others.
#if !defined(__CUDACC__) && !defined(KILN_SIMT_QUALIFIERS)
#error "a CUDA header replaced the emulator's qualifier macros"
#endif

namespace kiln::KILN_BACKEND {
// Blocks needed to cover `n` items with `per_block` each.
__host__ __device__ inline unsigned blocks_for(int64_t n, int per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}
}  // namespace kiln::KILN_BACKEND
