// Per-GPU state: the compute stream, the caching allocator, lazily created cuBLAS
// and cuDNN handles bound to that stream, and a growable workspace arena used by
// cuDNN and by kernels that need scratch memory. Everything on a device is issued
// on its one compute stream, so the arena can be reused by consecutive calls.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <memory>

#include "core/caching_allocator.h"

namespace kiln::cuda {

class Context {
 public:
  explicit Context(int index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int index() const { return index_; }
  cudaStream_t stream() const { return stream_; }
  CachingAllocator& allocator() { return *allocator_; }
  cublasHandle_t cublas();
  cudnnHandle_t cudnn();
  // Scratch memory valid until the next workspace() call on this device.
  void* workspace(std::size_t bytes);

  // Makes this context's GPU current for the calling host thread.
  void activate() const;

 private:
  int index_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CachingAllocator> allocator_;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
};

// The context of GPU `index` (created on first use); throws if it is unusable.
Context& context(int index);

}  // namespace kiln::cuda
