#include "kiln/ops/sequence_pool.h"

#include <climits>
#include <cmath>

#include "cpu/sequence_pool.h"
#include "ops/checks.h"
#include "ops/kernels.h"

namespace kiln {

SequencePool parse_sequence_pool(const std::string& name) {
  if (name == "mean") return SequencePool::mean;
  if (name == "last") return SequencePool::last;
  if (name == "last_bidirectional") return SequencePool::last_bidirectional;
  throw Error("unknown sequence pooling '" + name +
              "': expected mean, last or last_bidirectional");
}

const char* sequence_pool_name(SequencePool mode) {
  switch (mode) {
    case SequencePool::mean: return "mean";
    case SequencePool::last: return "last";
    case SequencePool::last_bidirectional: return "last_bidirectional";
  }
  return "?";
}

namespace ops {

namespace {

constexpr const char* kOp = "sequence_pool";

// x [T, B, F] (or dx), lengths [B], y [B, F] (or dy).
void check_shapes(SequencePool mode, const Tensor& x, const Tensor& lengths, const Tensor& y) {
  check_defined(kOp, x, "x");
  check_defined(kOp, lengths, "lengths");
  check_defined(kOp, y, "y");
  check_same_device(kOp, x, lengths);
  check_same_device(kOp, x, y);
  KILN_CHECK(x.rank() == 3 && x.dim(0) <= INT_MAX && x.dim(1) <= INT_MAX && x.dim(2) <= INT_MAX,
             kOp, ": expected a sequence batch [T, B, F], got ", shape_str(x.shape()));
  KILN_CHECK(lengths.shape() == Shape({x.dim(1)}), kOp, ": lengths are ",
             shape_str(lengths.shape()), " but the sequence batch ", shape_str(x.shape()),
             " needs [", x.dim(1), "]");
  KILN_CHECK(y.shape() == Shape({x.dim(1), x.dim(2)}), kOp, ": pooled output is ",
             shape_str(y.shape()), ", expected [", x.dim(1), ", ", x.dim(2), "]");
  KILN_CHECK(mode != SequencePool::last_bidirectional || x.dim(2) % 2 == 0, kOp,
             ": last_bidirectional splits the features into two directions, but there are ",
             x.dim(2), " (an odd number)");
  // Kernels clamp lengths into [0, T]; on the CPU they can be checked for free.
  if (!lengths.device().is_cpu()) return;
  for (int64_t b = 0; b < lengths.numel(); ++b) {
    const float length = lengths.data()[b];
    KILN_CHECK(length >= 0 && length <= x.dim(0) && std::floor(length) == length, kOp,
               ": length ", length, " of sequence ", b, " is not a step count in 0..",
               x.dim(0));
  }
}

}  // namespace

void sequence_pool_forward(SequencePool mode, const Tensor& x, const Tensor& lengths,
                           Tensor& y) {
  check_shapes(mode, x, lengths, y);
  const int m = static_cast<int>(mode), steps = static_cast<int>(x.dim(0));
  const int batch = static_cast<int>(x.dim(1)), features = static_cast<int>(x.dim(2));
  if (x.device().is_cpu()) {
    return cpu::sequence_pool_forward(m, x.data(), lengths.data(), y.data(), steps, batch,
                                      features);
  }
  KILN_KERNEL(x.device(), sequence_pool_forward, m, x.data(), lengths.data(), y.data(), steps,
              batch, features);
}

void sequence_pool_backward(SequencePool mode, const Tensor& lengths, const Tensor& dy,
                            Tensor& dx) {
  check_shapes(mode, dx, lengths, dy);
  const int m = static_cast<int>(mode), steps = static_cast<int>(dx.dim(0));
  const int batch = static_cast<int>(dx.dim(1)), features = static_cast<int>(dx.dim(2));
  if (dx.device().is_cpu()) {
    return cpu::sequence_pool_backward(m, lengths.data(), dy.data(), dx.data(), steps, batch,
                                       features);
  }
  KILN_KERNEL(dx.device(), sequence_pool_backward, m, lengths.data(), dy.data(), dx.data(),
              steps, batch, features);
}

}  // namespace ops
}  // namespace kiln
