// CPU backend of the data set batch gather (see kernels/gather_images.h).
#pragma once

#include <cstdint>

#include "kiln/data/augment.h"

namespace kiln::cpu {
void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int rows, int cols,
                   const Augmentation& augment, uint32_t epoch, float* images, float* labels);
}  // namespace kiln::cpu
