// The device-runtime layer's host side: cpu and simt memory live in host RAM;
// cuda goes through src/cuda (cuda_hooks). Also Buffer, Event and cross-device copy.
#include "kiln/runtime.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cuda_hooks.h"
#include "kiln/error.h"
#include "simt/allocations.h"

namespace kiln::rt {

namespace {

// cpu and simt: host memory, work runs synchronously in issue order. simt
// allocations are poisoned with 0xFF bytes (NaN as float) so a kernel that reads
// memory nobody wrote shows it in the results, as uninitialised GPU memory might.
class HostRuntime final : public DeviceRuntime {
 public:
  explicit HostRuntime(bool poison) : poison_(poison) {}

  void* alloc(std::size_t bytes) override {
    if (poison_ && simt::memcheck()) return simt::memcheck_alloc(bytes);  // guard pages
    constexpr std::size_t kAlign = 64;
    void* p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign + kAlign);
    KILN_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    if (poison_) std::memset(p, 0xFF, bytes);
    return p;
  }
  void free(void* ptr) override {
    if (!poison_ || !simt::memcheck_free(ptr)) std::free(ptr);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    std::memcpy(dst, src, bytes);
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    std::memmove(dst, src, bytes);
  }
  void memset(void* ptr, int value, std::size_t bytes) override { std::memset(ptr, value, bytes); }
  Stream compute_stream() override { return {}; }
  void synchronize() override {}

 private:
  bool poison_;
};

double host_now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

DeviceRuntime& runtime(const Device& device) {
  static HostRuntime cpu_runtime(false);
  static HostRuntime simt_runtime(true);
  switch (device.kind) {
    case DeviceKind::cpu: return cpu_runtime;
    case DeviceKind::simt: return simt_runtime;
    case DeviceKind::cuda: require_available(device); return cuda_hooks::runtime(device.index);
  }
  throw Error("unknown device kind");
}

void copy(void* dst, const Device& dst_device, const void* src, const Device& src_device,
          std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == src_device) return runtime(dst_device).copy_within(dst, src, bytes);
  if (dst_device.is_cpu()) return runtime(src_device).copy_to_host(dst, src, bytes);
  if (src_device.is_cpu()) return runtime(dst_device).copy_from_host(dst, src, bytes);
  std::vector<unsigned char> staging(bytes);
  runtime(src_device).copy_to_host(staging.data(), src, bytes);
  runtime(dst_device).copy_from_host(dst, staging.data(), bytes);
  // The staging vector dies here: the upload must have consumed it.
  runtime(dst_device).synchronize();
}

// ---- Buffer ---------------------------------------------------------------------------
Buffer::Buffer(Device device, std::size_t bytes)
    : device_(device), ptr_(bytes ? runtime(device).alloc(bytes) : nullptr), bytes_(bytes) {}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept
    : device_(other.device_), ptr_(other.ptr_), bytes_(other.bytes_) {
  other.ptr_ = nullptr;
  other.bytes_ = 0;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    ptr_ = other.ptr_;
    bytes_ = other.bytes_;
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void Buffer::release() {
  if (ptr_) runtime(device_).free(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

// ---- Event ------------------------------------------------------------------------------
Event::Event(Device device) : device_(device) {
  if (device_.is_cuda()) {
    require_available(device_);
    handle_ = cuda_hooks::event_create(device_.index);
  }
}

Event::~Event() {
  if (handle_) cuda_hooks::event_destroy(handle_);
}

void Event::record() {
  if (handle_) return cuda_hooks::event_record(handle_, device_.index);
  host_ms_ = host_now_ms();
}

void Event::synchronize() {
  if (handle_) cuda_hooks::event_synchronize(handle_);
}

float Event::elapsed_ms(const Event& start) {
  KILN_CHECK(start.device_ == device_, "events on different devices");
  if (handle_) return cuda_hooks::event_elapsed_ms(start.handle_, handle_);
  return static_cast<float>(host_ms_ - start.host_ms_);
}

}  // namespace kiln::rt
