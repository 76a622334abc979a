// cuDNN pooling through the legacy descriptor API (cudnn_ops.h; still shipped in
// cuDNN 9, where it is marked deprecated in favour of the graph API).
//   max: CUDNN_POOLING_MAX_DETERMINISTIC (deterministic backward, as our kernels)
//   avg: CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING (our convention, docs/OPS.md)
// NaNs are not propagated by max (CUDNN_NOT_PROPAGATE_NAN). Work is issued on the
// device's compute stream (the handle is bound to it by cuda::Context).
#include "cudnn/pool2d.h"

#include "cuda/check.h"
#include "cudnn/descriptors.h"
#include "cuda/context.h"

namespace kiln::cudnn {

namespace {

class PoolingDesc : public Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                                      cudnnDestroyPoolingDescriptor> {
 public:
  PoolingDesc(PoolMode mode, const Pool2dParams& p) {
    const cudnnPoolingMode_t cudnn_mode = mode == PoolMode::max
                                              ? CUDNN_POOLING_MAX_DETERMINISTIC
                                              : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    KILN_CUDNN_CHECK(cudnnSetPooling2dDescriptor(get(), cudnn_mode, CUDNN_NOT_PROPAGATE_NAN,
                                                 p.kernel_h, p.kernel_w, p.pad_h, p.pad_w,
                                                 p.stride_h, p.stride_w));
  }
};

}  // namespace

void pool2d_forward(PoolMode mode, const Tensor& x, Tensor& y, const Pool2dParams& p) {
  cuda::Context& ctx = cuda::context(x.device().index);
  ctx.activate();
  const PoolingDesc pool(mode, p);
  const TensorDesc x_desc(x), y_desc(y);
  const float alpha = 1.0f, beta = 0.0f;
  KILN_CUDNN_CHECK(cudnnPoolingForward(ctx.cudnn(), pool.get(), &alpha, x_desc.get(), x.data(),
                                       &beta, y_desc.get(), y.data()));
}

void pool2d_backward(PoolMode mode, const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor& dx, const Pool2dParams& p) {
  cuda::Context& ctx = cuda::context(x.device().index);
  ctx.activate();
  const PoolingDesc pool(mode, p);
  const TensorDesc x_desc(x), y_desc(y);
  const float alpha = 1.0f, beta = 0.0f;
  // dy and dx share y's and x's shapes, hence their descriptors.
  KILN_CUDNN_CHECK(cudnnPoolingBackward(ctx.cudnn(), pool.get(), &alpha, y_desc.get(), y.data(),
                                        y_desc.get(), dy.data(), x_desc.get(), x.data(), &beta,
                                        x_desc.get(), dx.data()));
}

}  // namespace kiln::cudnn
