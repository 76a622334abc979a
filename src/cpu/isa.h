// Which x86 instruction-set variant the CPU kernels run (the direct convolution's
// tiles are compiled once per variant, each with register tiles sized for its vector
// width and register file; docs/KERNELS.md "CPU versions"). The widest variant the
// machine supports runs unless KILN_CPU_ISA=avx512|avx2|baseline forces one; tests and
// benchmarks force each variant the machine supports with set_isa.
#pragma once

#include <string>
#include <vector>

namespace kiln::cpu {

// baseline: x86-64's SSE2 (4-float vectors, 16 registers); avx2: AVX2 + FMA (8 floats,
// 16 registers); avx512: AVX-512F + FMA (16 floats, 32 registers).
enum class Isa { baseline, avx2, avx512 };

const char* isa_name(Isa isa);
// The CPU has the instructions and the OS saves their registers.
bool isa_supported(Isa isa);
// Every supported variant, narrowest first.
std::vector<Isa> supported_isas();
// Their names, comma-separated.
std::string supported_isa_names();
// A KILN_CPU_ISA value; kiln::Error naming the variable if it is not a variant or the
// machine lacks it.
Isa parse_isa(const std::string& value);

// The variant in use and why (e.g. "widest this CPU supports" or "KILN_CPU_ISA=avx2").
// Fixed on first use from KILN_CPU_ISA; a bad or unsupported value throws kiln::Error.
Isa active_isa();
std::string active_isa_reason();
// Forces a variant from now on; kiln::Error if the machine lacks it.
void set_isa(Isa isa);

}  // namespace kiln::cpu
