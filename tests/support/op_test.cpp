#include "support/op_test.h"

#include <cmath>
#include <sstream>

#include "kiln/error.h"
#include "kiln/philox.h"

namespace kiln::test {

std::vector<Device> test_devices() {
  std::vector<Device> devices{Device::cpu()};
#ifndef __SANITIZE_ADDRESS__
  // The emulator's fibers switch stacks behind AddressSanitizer's back (Debian's Boost has
  // no ASan annotations for fcontext), so the ASan build tests cpu only.
  devices.push_back(Device::simt());
#endif
  if (cuda_device_count() > 0) devices.push_back(Device::cuda(0));
  return devices;
}

std::string device_name(const Device& device) {
  switch (device.kind) {
    case DeviceKind::cpu: return "cpu";
    case DeviceKind::simt: return "simt";
    case DeviceKind::cuda: return "cuda";
  }
  return "unknown";
}

std::vector<float> random_vector(std::size_t n, std::uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * philox::uniform(seed, 0, i);
  return v;
}

Tensor random_tensor(const Shape& shape, const Device& device, std::uint64_t seed, float lo,
                     float hi) {
  return Tensor::from_vector(random_vector(numel_of(shape), seed, lo, hi), shape, device);
}

testing::AssertionResult all_close(const std::vector<float>& actual,
                                   const std::vector<double>& expected, double atol,
                                   double rtol) {
  if (actual.size() != expected.size()) {
    return testing::AssertionFailure()
           << "size mismatch: " << actual.size() << " vs " << expected.size();
  }
  std::size_t failures = 0, worst = 0;
  double worst_excess = -1.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    const double allowed = atol + rtol * std::fabs(expected[i]);
    const double excess = std::isnan(err) ? INFINITY : err - allowed;
    if (excess > 0) ++failures;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  std::ostringstream msg;
  if (!actual.empty()) {
    msg << "worst element " << worst << " of " << actual.size() << ": got " << actual[worst]
        << ", expected " << expected[worst] << " (|diff| "
        << std::fabs(actual[worst] - expected[worst]) << ", allowed "
        << atol + rtol * std::fabs(expected[worst]) << ")";
  }
  if (failures == 0) return testing::AssertionSuccess() << msg.str();
  return testing::AssertionFailure() << failures << " elements out of tolerance; " << msg.str();
}

testing::AssertionResult all_close(const std::vector<float>& actual,
                                   const std::vector<float>& expected, double atol,
                                   double rtol) {
  return all_close(actual, std::vector<double>(expected.begin(), expected.end()), atol, rtol);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace kiln::test
