// Random-translation augmentation of training images, drawn inside the batch
// gather on the device. The shift of the image at position `position` of epoch
// `epoch` is a pure function of (seed, epoch, position) through Philox, so cpu,
// simt and cuda gather bit-identical batches, and a resumed run draws the same
// shifts as an uninterrupted one.
#pragma once

#include <cstdint>

#include "kiln/philox.h"

namespace kiln {

struct Augmentation {
  // Each image moves by (dy, dx), both uniform in [-max_shift, max_shift]; 0: off.
  int max_shift = 0;
  uint64_t seed = 0;
};

struct ImageShift {
  int dy = 0, dx = 0;  // output pixel (r, c) reads input pixel (r - dy, c - dx)
};

// Counter word 2 of the augmentation draws: keeps them apart from every other
// Philox stream keyed by the same seed (those use counter words 0 and 1 only).
constexpr std::uint32_t kAugmentStream = 0x53484654u;  // "SHFT"

// Philox block (position, epoch, kAugmentStream, 0) under `seed`; words 0 and 1
// become dy and dx by a multiply-high into [0, 2 * max_shift] (bias below
// (2 * max_shift + 1) / 2^32).
KILN_HD ImageShift image_shift(const Augmentation& augment, std::uint32_t epoch,
                               std::uint32_t position) {
  if (augment.max_shift == 0) return ImageShift{};
  const philox::Block block = philox::philox4x32_10(
      philox::Block{{position, epoch, kAugmentStream, 0u}},
      static_cast<std::uint32_t>(augment.seed), static_cast<std::uint32_t>(augment.seed >> 32));
  const std::uint64_t range = 2 * static_cast<std::uint64_t>(augment.max_shift) + 1;
  ImageShift shift;
  shift.dy = static_cast<int>((block.v[0] * range) >> 32) - augment.max_shift;
  shift.dx = static_cast<int>((block.v[1] * range) >> 32) - augment.max_shift;
  return shift;
}

}  // namespace kiln
