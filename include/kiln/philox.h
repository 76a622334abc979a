// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11): a counter-based generator. The numbers for (seed, counter) are a pure
// function of both, computed with 32-bit integer arithmetic only, so host code,
// nvcc kernels and emulated kernels draw bit-identical streams. Element i of a
// stream is word i % 4 of the block at counter offset + i / 4.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__ __forceinline__
#else
#define KILN_HD inline
#endif

namespace kiln::philox {

struct Block {
  std::uint32_t v[4];
};

KILN_HD void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}

// Philox4x32's round multipliers and key increments (Salmon et al., table 2).
constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
constexpr int kRounds = 10;

// The 10-round Philox4x32 bijection of a 128-bit counter under a 64-bit key.
KILN_HD Block philox4x32_10(Block counter, std::uint32_t k0, std::uint32_t k1) {
  std::uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
  for (int round = 0; round < kRounds; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c0, hi0, lo0);
    mulhilo(kMul1, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Block{{c0, c1, c2, c3}};
}

// The block at 64-bit `counter` of the stream keyed by `seed`.
KILN_HD Block generate(std::uint64_t seed, std::uint64_t counter) {
  const Block c{{static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u}};
  return philox4x32_10(c, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Element `index` of the stream (seed, offset) as 32 random bits.
KILN_HD std::uint32_t bits(std::uint64_t seed, std::uint64_t offset, std::uint64_t index) {
  return generate(seed, offset + index / 4).v[index % 4];
}

// A uniform float in [0, 1): the top 24 bits scaled by 2^-24, exact in float. Converted
// through int32 (the same value, below 2^24) because x86 before AVX-512 has no vector
// conversion from unsigned integers, and the cpu dropout loop would not vectorise.
KILN_HD float to_unit_float(std::uint32_t x) {
  return static_cast<float>(static_cast<std::int32_t>(x >> 8)) * 5.9604645e-8f;
}

KILN_HD float uniform(std::uint64_t seed, std::uint64_t offset, std::uint64_t index) {
  return to_unit_float(bits(seed, offset, index));
}

}  // namespace kiln::philox
