// Limits from the CUDA C++ Programming Guide's table of compute capabilities:
// 48 KiB of shared memory per block without opt-in; with
// cudaFuncAttributeMaxDynamicSharedMemorySize, 163 KiB on sm_80, 227 KiB on
// sm_90, 99 KiB on sm_86/sm_89. kiln's sm_80 build also runs on sm_86/sm_89
// GPUs, so the emulator holds kernels to the smallest of these, 99 KiB.
#include "simt/resources.h"

#include <cstring>
#include <map>
#include <mutex>

#include "simt/memcheck.h"
#include "simt/symbols.h"

namespace kiln::simt {
namespace {

constexpr std::size_t kDefaultShared = 48 * 1024;
constexpr std::size_t kOptInShared = 99 * 1024;

struct KernelLimits {
  bool static_known = false;
  std::size_t static_bytes = 0;
  std::size_t opted_in = 0;  // cudaFuncAttributeMaxDynamicSharedMemorySize, 0 if never set
};

std::mutex& limits_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<const void*, KernelLimits>& limits() {
  static std::map<const void*, KernelLimits> table;
  return table;
}

// The kernel's __launch_bounds__ (whole warps), or 0 without one: the NOPs that
// simt.h's macro puts at its entry, after an endbr64 where CET adds one.
unsigned launch_bound(const void* kernel) {
  const auto* code = static_cast<const unsigned char*>(kernel);
  static constexpr unsigned char kEndbr64[] = {0xF3, 0x0F, 0x1E, 0xFA};
  if (std::memcmp(code, kEndbr64, sizeof kEndbr64) == 0) code += sizeof kEndbr64;
  unsigned nops = 0;
  while (nops < 32 && code[nops] == 0x90) ++nops;
  return nops * 32;
}

}  // namespace

void set_max_dynamic_shared(const void* kernel, std::size_t bytes) {
  if (bytes > kOptInShared) {
    throw KernelError(kiln::detail::concat(
        "cudaFuncSetAttribute(", detail::kernel_name(LaunchInfo{kernel, nullptr, 0}),
        ", cudaFuncAttributeMaxDynamicSharedMemorySize, ", bytes, "): more than the ",
        kOptInShared, " bytes a GPU kiln builds for allows (sm_86/sm_89)"));
  }
  std::lock_guard<std::mutex> lock(limits_mutex());
  limits()[kernel].opted_in = bytes;
}

namespace detail {

void check_resources(dim3 block, std::size_t dynamic_smem, const LaunchInfo& info) {
  if (!info.kernel) return;
  const unsigned threads = block.x * block.y * block.z;
  const unsigned bound = launch_bound(info.kernel);
  if (bound != 0 && threads > bound) {
    throw KernelError(kiln::detail::concat(
        "invalid launch of ", kernel_name(info), ": ", threads,
        " threads per block exceed its __launch_bounds__ (", bound,
        ", rounded up to whole warps); a GPU refuses the launch"));
  }
  if (dynamic_smem == 0) return;  // nvcc itself rejects static shared memory over 48 KiB
  KernelLimits k;
  {
    std::lock_guard<std::mutex> lock(limits_mutex());
    k = limits()[info.kernel];
  }
  if (!k.static_known) {
    k.static_bytes = static_shared_bytes(info.kernel);  // reads the symbol table: once
    k.static_known = true;
    std::lock_guard<std::mutex> lock(limits_mutex());
    limits()[info.kernel].static_known = true;
    limits()[info.kernel].static_bytes = k.static_bytes;
  }
  const std::size_t total = k.static_bytes + dynamic_smem;
  if (k.opted_in == 0 && total > kDefaultShared) {
    throw KernelError(kiln::detail::concat(
        "invalid launch of ", kernel_name(info), ": ", k.static_bytes, " bytes of static and ",
        dynamic_smem, " of dynamic shared memory exceed ", kDefaultShared,
        " without cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize)"));
  }
  if (k.opted_in != 0 && (dynamic_smem > k.opted_in || total > kOptInShared)) {
    throw KernelError(kiln::detail::concat(
        "invalid launch of ", kernel_name(info), ": ", k.static_bytes, " bytes of static and ",
        dynamic_smem, " of dynamic shared memory exceed the opt-in of ", k.opted_in,
        " bytes or the limit of ", kOptInShared, " in all"));
  }
}

}  // namespace detail
}  // namespace kiln::simt
