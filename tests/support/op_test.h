// Test support shared by op suites: the devices to run on, input generators and a
// comparison that reports the worst element.
//
// Parameterised op tests name each case "<device>_<shape...>" (see device_name),
// so `--gtest_filter=*simt*` selects the emulator cases (ctest reruns those under
// other schedule orders).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kiln/device.h"
#include "kiln/tensor.h"

namespace kiln::test {

// cpu, simt, and cuda:0 when a GPU is usable.
std::vector<Device> test_devices();
// "cpu", "simt", "cuda" (GoogleTest parameter names allow only [A-Za-z0-9_]).
std::string device_name(const Device& device);

// Deterministic values in [lo, hi) from a seed (host-side, any device gets the same).
std::vector<float> random_vector(std::size_t n, std::uint64_t seed, float lo = -1.0f,
                                 float hi = 1.0f);
Tensor random_tensor(const Shape& shape, const Device& device, std::uint64_t seed,
                     float lo = -1.0f, float hi = 1.0f);

// Passes when |actual - expected| <= atol + rtol * |expected| everywhere; otherwise
// the message gives the failing count, the worst element's index, both values and
// the tolerance. NaN in `actual` always fails.
testing::AssertionResult all_close(const std::vector<float>& actual,
                                   const std::vector<double>& expected, double atol,
                                   double rtol);
testing::AssertionResult all_close(const std::vector<float>& actual,
                                   const std::vector<float>& expected, double atol,
                                   double rtol);

// The message of the kiln::Error `f` throws, or "(no error)".
std::string error_of(const std::function<void()>& f);

}  // namespace kiln::test

// Skips (visibly) unless a CUDA GPU is usable.
#define KILN_REQUIRE_GPU()                                                        \
  do {                                                                            \
    std::string kiln_why_;                                                        \
    if (::kiln::cuda_device_count(&kiln_why_) == 0) GTEST_SKIP() << "no GPU: " << kiln_why_; \
  } while (0)
