#pragma once

#include "kiln/tensor.h"

namespace kiln::ops {

// out (shape [1], same device) = sum of all elements of x. Stays on the device: no
// host synchronisation. Deterministic for a given n on each device.
void sum(const Tensor& x, Tensor& out);

}  // namespace kiln::ops
