// CPU backend of the data set batch gather (see kernels/gather_images.h).
#pragma once

#include <cstdint>

namespace kiln::cpu {
void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int64_t image_size,
                   float* images, float* labels);
}  // namespace kiln::cpu
