// Op tests run the CPU backend once per instruction-set variant the machine supports
// (cpu/isa.h), so an AVX-512 machine tests the avx2 and baseline code too.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cpu/isa.h"
#include "kiln/device.h"
#include "support/op_test.h"

namespace kiln::test {

// Every supported variant for cpu; for other devices only the one in use (the
// variant does not apply to them).
inline std::vector<cpu::Isa> isas_for(const Device& device) {
  if (device.is_cpu()) return cpu::supported_isas();
  return {cpu::active_isa()};
}

// Every (device, variant) pair to test: each variant on cpu, the one in use elsewhere.
inline std::vector<std::pair<Device, cpu::Isa>> devices_and_isas() {
  std::vector<std::pair<Device, cpu::Isa>> pairs;
  for (const Device& device : test_devices()) {
    for (cpu::Isa isa : isas_for(device)) pairs.emplace_back(device, isa);
  }
  return pairs;
}

// "cpu_avx2", "simt", ...: the case-name prefix for a device and variant.
inline std::string device_isa_name(const std::string& device_name, const Device& device,
                                   cpu::Isa isa) {
  return device.is_cpu() ? device_name + "_" + cpu::isa_name(isa) : device_name;
}

// Forces a variant for one scope and restores the previous one.
class ScopedIsa {
 public:
  explicit ScopedIsa(cpu::Isa isa) : saved_(cpu::active_isa()) { cpu::set_isa(isa); }
  ~ScopedIsa() { cpu::set_isa(saved_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  cpu::Isa saved_;
};

}  // namespace kiln::test
