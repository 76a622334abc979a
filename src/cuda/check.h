// Error checks for CUDA runtime, cuBLAS and cuDNN calls: a failure throws
// kiln::Error naming the call, the status and where it happened.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "kiln/error.h"

namespace kiln::cuda {
const char* cublas_status_name(cublasStatus_t status);
}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(call)                                                         \
  do {                                                                                \
    const cudaError_t status_ = (call);                                               \
    KILN_CHECK(status_ == cudaSuccess, #call, " failed: ", cudaGetErrorString(status_), \
               " (", __FILE__, ":", __LINE__, ")");                                   \
  } while (0)

#define KILN_CUBLAS_CHECK(call)                                                       \
  do {                                                                                \
    const cublasStatus_t status_ = (call);                                            \
    KILN_CHECK(status_ == CUBLAS_STATUS_SUCCESS, #call, " failed: ",                  \
               ::kiln::cuda::cublas_status_name(status_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

#define KILN_CUDNN_CHECK(call)                                                        \
  do {                                                                                \
    const cudnnStatus_t status_ = (call);                                             \
    KILN_CHECK(status_ == CUDNN_STATUS_SUCCESS, #call, " failed: ",                   \
               cudnnGetErrorString(status_), " (", __FILE__, ":", __LINE__, ")");     \
  } while (0)
