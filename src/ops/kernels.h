// Declares the launchers of both kernel builds (kiln::simt_kernels always,
// kiln::cuda_kernels with KILN_HAVE_CUDA) and KILN_KERNEL, the one way op dispatch
// calls them.
#pragma once

#include "kiln/device.h"
#include "kiln/runtime.h"

#define KILN_BACKEND simt_kernels
#include "kernels/launchers.h"
#undef KILN_BACKEND

#if KILN_HAVE_CUDA
#define KILN_BACKEND cuda_kernels
#include "kernels/launchers.h"
#undef KILN_BACKEND
#define KILN_CUDA_LAUNCHER(launcher, ...) ::kiln::cuda_kernels::launcher(__VA_ARGS__)
#else
#define KILN_CUDA_LAUNCHER(launcher, ...) ::kiln::require_available(::kiln::Device::cuda())
#endif

// KILN_KERNEL(device, launcher, args...): calls `launcher(args..., stream)` from the
// kernel build that serves `device` (simt or cuda), on its compute stream.
#define KILN_KERNEL(device, launcher, ...)                                          \
  do {                                                                              \
    const ::kiln::Device& kiln_device_ = (device);                                  \
    const ::kiln::rt::Stream kiln_stream_ = ::kiln::rt::compute_stream(kiln_device_); \
    if (kiln_device_.is_simt()) {                                                   \
      ::kiln::simt_kernels::launcher(__VA_ARGS__, kiln_stream_);                    \
    } else {                                                                        \
      KILN_CUDA_LAUNCHER(launcher, __VA_ARGS__, kiln_stream_);                      \
    }                                                                               \
  } while (0)
