// Local response normalisation across channels (Krizhevsky et al. 2012):
//   scale[n,c,h,w] = k + alpha/size * sum_{c' in window(c)} x[n,c',h,w]^2
//   y = x * scale^-beta
// window(c) = [c - (size-1)/2, c + size/2] clipped to the channels. AlexNet: size 5,
// alpha 1e-4, beta 0.75, k 2. (alpha/size as in Caffe and cuDNN.)
#pragma once

#include "kiln/tensor.h"

namespace kiln {

struct LrnParams {
  int size = 5;
  float alpha = 1e-4f, beta = 0.75f, k = 2.0f;
};

namespace ops {
// scale (same shape as x) is saved for the backward.
void lrn_forward(const Tensor& x, Tensor& y, Tensor& scale, const LrnParams& p);
void lrn_backward(const Tensor& x, const Tensor& y, const Tensor& scale, const Tensor& dy,
                  Tensor& dx, const LrnParams& p);
}  // namespace ops

}  // namespace kiln
