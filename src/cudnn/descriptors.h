// RAII owners of cuDNN descriptors, shared by every cuDNN path. A descriptor is
// created by the base class before the derived constructor sets it, so a failing
// cudnnSet* call still destroys it.
#pragma once

#include <cudnn.h>

#include "cuda/check.h"
#include "kiln/tensor.h"

namespace kiln::cudnn {

template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class Descriptor {
 public:
  Descriptor() { KILN_CUDNN_CHECK(Create(&handle_)); }
  ~Descriptor() { Destroy(handle_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Handle get() const { return handle_; }

 private:
  Handle handle_ = nullptr;
};

// A dense NCHW float tensor.
class TensorDesc : public Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                     cudnnDestroyTensorDescriptor> {
 public:
  TensorDesc(int n, int c, int h, int w) {
    KILN_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  explicit TensorDesc(const Tensor& t)
      : TensorDesc(static_cast<int>(t.dim(0)), static_cast<int>(t.dim(1)),
                   static_cast<int>(t.dim(2)), static_cast<int>(t.dim(3))) {}
};

}  // namespace kiln::cudnn
