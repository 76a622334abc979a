// Device: where a tensor lives and which implementation runs an op on it.
//   cpu  - the CPU backend (OpenBLAS, OpenMP)
//   cuda - a real GPU, running kiln's kernels compiled by nvcc (and cuDNN/cuBLAS)
//   simt - the same kernel source compiled by g++ and run by kiln's SIMT emulator
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace kiln {

enum class DeviceKind { cpu, cuda, simt };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {DeviceKind::cpu, 0}; }
  static Device simt() { return {DeviceKind::simt, 0}; }
  static Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }

  // Parses "cpu", "simt", "cuda", "cuda:1". Throws kiln::Error on anything else.
  static Device parse(const std::string& text);

  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }
  bool is_simt() const { return kind == DeviceKind::simt; }
  // True for the devices that run kiln's CUDA kernels (cuda and simt).
  bool runs_kernels() const { return kind != DeviceKind::cpu; }

  std::string str() const;
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// True when kiln was built with nvcc kernels (KILN_CUDA on).
bool cuda_compiled();

// Number of usable CUDA GPUs; 0 when kiln was built without CUDA or no driver/GPU
// answers. `why_none` (if given) receives the reason when the count is 0.
int cuda_device_count(std::string* why_none = nullptr);

// Throws a kiln::Error that says what to do when `device` cannot be used here.
void require_available(const Device& device);

// Every device available in this process: cpu, simt, then each CUDA GPU.
std::vector<Device> available_devices();

// "auto": the first CUDA GPU if present, else cpu.
Device best_device();

// What `kiln devices` prints about a GPU.
struct GpuInfo {
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  std::size_t memory_bytes = 0;
  std::string cudnn_version, cublas_version;
};
GpuInfo gpu_info(int index);  // requires cuda_device_count() > index

}  // namespace kiln
