// Variant detection: GCC's __builtin_cpu_supports reads CPUID and, for AVX and
// AVX-512, checks with XGETBV that the OS saves the wider registers.
#include "cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "kiln/error.h"

namespace kiln::cpu {

namespace {

constexpr Isa kAll[] = {Isa::baseline, Isa::avx2, Isa::avx512};

Isa widest_supported() {
  Isa widest = Isa::baseline;
  for (Isa isa : kAll)
    if (isa_supported(isa)) widest = isa;
  return widest;
}

struct State {
  std::mutex mutex;
  bool chosen = false;
  std::atomic<Isa> isa{Isa::baseline};
  std::string reason;
};

State& state() {
  static State s;
  return s;
}

// Fixes the variant on first use (KILN_CPU_ISA or the widest); returns the state.
State& chosen() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.chosen) {
    const char* env = std::getenv("KILN_CPU_ISA");
    if (env && *env) {
      s.isa = parse_isa(env);
      s.reason = std::string("forced by KILN_CPU_ISA=") + env;
    } else {
      s.isa = widest_supported();
      s.reason = "the widest this CPU supports (KILN_CPU_ISA unset)";
    }
    s.chosen = true;
  }
  return s;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::baseline: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == Isa::baseline;
#endif
}

Isa parse_isa(const std::string& value) {
  for (Isa isa : kAll)
    if (value == isa_name(isa)) {
      KILN_CHECK(isa_supported(isa), "KILN_CPU_ISA=", value,
                 ": this CPU does not support it; it supports ", supported_isa_names(),
                 " (unset KILN_CPU_ISA to use the widest)");
      return isa;
    }
  KILN_CHECK(false, "KILN_CPU_ISA=", value, " is not a variant: use avx512, avx2 or baseline",
             " (this CPU supports ", supported_isa_names(), ")");
  return Isa::baseline;
}

std::string supported_isa_names() {
  std::string list;
  for (Isa isa : supported_isas()) list += std::string(list.empty() ? "" : ", ") + isa_name(isa);
  return list;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : kAll)
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

Isa active_isa() {
  State& s = state();
  // After the first call the mutex is only taken by set_isa and reason look-ups.
  static const bool initialised = (chosen(), true);
  (void)initialised;
  return s.isa.load(std::memory_order_relaxed);
}

std::string active_isa_reason() {
  State& s = chosen();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.reason;
}

void set_isa(Isa isa) {
  KILN_CHECK(isa_supported(isa), "cpu ISA variant ", isa_name(isa),
             " is not supported by this CPU (it supports ", supported_isa_names(), ")");
  State& s = chosen();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.isa = isa;
  s.reason = std::string("set by the program (") + isa_name(isa) + ")";
}

}  // namespace kiln::cpu
