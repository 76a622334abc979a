// The thin device-runtime layer: allocation, copies, memset, the compute stream,
// events and synchronisation for every device kind. One implementation talks to
// the CUDA runtime (src/cuda/runtime_cuda.cpp), one to the SIMT emulator and the
// host (src/core/runtime_host.cpp). Everything above this layer is device-neutral.
#pragma once

#include <cstddef>
#include <memory>

#include "kiln/device.h"

namespace kiln::rt {

// A stream handle: cudaStream_t on cuda, unused (null) on cpu and simt, where
// work runs synchronously in issue order.
struct Stream {
  void* handle = nullptr;
};

// Records a point in a device's compute stream; elapsed_ms() between two.
class Event {
 public:
  explicit Event(Device device);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record();
  void synchronize();
  // Milliseconds from `start` to this event; both must have been recorded.
  float elapsed_ms(const Event& start);

 private:
  Device device_;
  void* handle_ = nullptr;  // cudaEvent_t on cuda
  double host_ms_ = 0;      // host clock reading on cpu/simt
};

class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;
  virtual void* alloc(std::size_t bytes) = 0;
  virtual void free(void* ptr) = 0;
  // Copies between this device and the host, or within this device, ordered on
  // the compute stream. Copies to the host return when the data is there.
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, std::size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void memset(void* ptr, int value, std::size_t bytes) = 0;
  virtual Stream compute_stream() = 0;
  virtual void synchronize() = 0;
  // Returns cached device memory to the system (caching allocators only).
  virtual void empty_cache() {}
};

// The runtime of `device`; throws kiln::Error if the device is not available.
DeviceRuntime& runtime(const Device& device);

// Copies `bytes` between any two devices (through the host when neither is it).
void copy(void* dst, const Device& dst_device, const void* src, const Device& src_device,
          std::size_t bytes);

inline Stream compute_stream(const Device& device) { return runtime(device).compute_stream(); }
inline void synchronize(const Device& device) { runtime(device).synchronize(); }

// Move-only RAII device memory.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device device, std::size_t bytes);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() { return ptr_; }
  const void* data() const { return ptr_; }
  template <class T>
  T* as() { return static_cast<T*>(ptr_); }
  template <class T>
  const T* as() const { return static_cast<const T*>(ptr_); }
  std::size_t bytes() const { return bytes_; }
  const Device& device() const { return device_; }

 private:
  void release();
  Device device_;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace kiln::rt
