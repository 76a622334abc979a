#include "kiln/device.h"

#include "core/cuda_hooks.h"
#include "kiln/error.h"

namespace kiln {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "simt") return simt();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string index = text.substr(5);
    KILN_CHECK(!index.empty() && index.find_first_not_of("0123456789") == std::string::npos,
               "bad device '", text, "': expected cuda:N with N a GPU index");
    return cuda(std::stoi(index));
  }
  throw Error("unknown device '" + text + "': expected cpu, simt, cuda or cuda:N");
}

std::string Device::str() const {
  switch (kind) {
    case DeviceKind::cpu: return "cpu";
    case DeviceKind::simt: return "simt";
    case DeviceKind::cuda: return "cuda:" + std::to_string(index);
  }
  return "?";
}

bool cuda_compiled() { return KILN_HAVE_CUDA; }

int cuda_device_count(std::string* why_none) {
  return cuda_hooks::device_count(why_none);
}

void require_available(const Device& device) {
  if (!device.is_cuda()) return;
  std::string why;
  const int count = cuda_device_count(&why);
  KILN_CHECK(count > 0, "device ", device.str(), " was requested but no CUDA GPU is usable: ",
             why, ". Use --device cpu (or simt to run the CUDA kernels on the emulator).");
  KILN_CHECK(device.index >= 0 && device.index < count, "device ", device.str(),
             " does not exist: this machine has ", count, " CUDA GPU(s), cuda:0..cuda:",
             count - 1);
}

std::vector<Device> available_devices() {
  std::vector<Device> devices{Device::cpu(), Device::simt()};
  const int count = cuda_device_count();
  for (int i = 0; i < count; ++i) devices.push_back(Device::cuda(i));
  return devices;
}

GpuInfo gpu_info(int index) {
  require_available(Device::cuda(index));
  return cuda_hooks::gpu_info(index);
}

Device best_device() { return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu(); }

}  // namespace kiln
