// Random-translation reference: the shift of each image drawn from the Philox
// block (position, epoch, "SHFT", 0) keyed by the seed, words 0 and 1 scaled into
// [-max_shift, max_shift] by floor(word * (2 * max_shift + 1) / 2^32), and the
// image moved pixel by pixel with background byte 0 shifted in.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/philox.h"

namespace kiln::reference {

struct Translation {
  int dy = 0, dx = 0;
};

inline Translation translation(std::uint64_t seed, int max_shift, std::uint32_t epoch,
                               std::uint32_t position) {
  if (max_shift == 0) return {};
  const philox::Block block = philox::philox4x32_10(
      philox::Block{{position, epoch, 0x53484654u, 0u}}, static_cast<std::uint32_t>(seed),
      static_cast<std::uint32_t>(seed >> 32));
  const double range = 2.0 * max_shift + 1.0;
  const auto scale = [&](std::uint32_t word) {
    return static_cast<int>(std::floor(word * range / 4294967296.0)) - max_shift;
  };
  return {scale(block.v[0]), scale(block.v[1])};
}

// The rows x cols image `pixels` moved down by dy and right by dx.
inline std::vector<std::uint8_t> translate(const std::uint8_t* pixels, int rows, int cols,
                                           Translation t) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows) * cols, 0);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int to_row = r + t.dy, to_col = c + t.dx;
      if (to_row >= 0 && to_row < rows && to_col >= 0 && to_col < cols) {
        out[to_row * cols + to_col] = pixels[r * cols + c];
      }
    }
  }
  return out;
}

}  // namespace kiln::reference
