// Dropout reference: the mask drawn element by element from kiln::philox (the
// generator is the specification; kiln/philox.h is checked against the published
// Philox4x32-10 test vectors elsewhere), the arithmetic in double.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/philox.h"

namespace kiln::reference {

inline std::vector<double> dropout(const std::vector<double>& in, double p, std::uint64_t seed,
                                   std::uint64_t offset) {
  std::vector<double> out(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const bool keep = philox::uniform(seed, offset, i) >= p;
    out[i] = keep ? in[i] / (1.0 - p) : 0.0;
  }
  return out;
}

}  // namespace kiln::reference
