// Argument checks shared by op dispatch: every message names the op and the shapes.
#pragma once

#include <string>

#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln::ops {

inline void check_defined(const char* op, const Tensor& t, const char* name) {
  KILN_CHECK(t.defined(), op, ": tensor '", name, "' is empty");
}

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.device() == b.device(), op, ": tensors on different devices (",
             a.device().str(), " and ", b.device().str(), ")");
}

inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  KILN_CHECK(a.shape() == b.shape(), op, ": shape mismatch ", shape_str(a.shape()), " vs ",
             shape_str(b.shape()));
}

}  // namespace kiln::ops
