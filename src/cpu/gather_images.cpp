#include "cpu/gather_images.h"

namespace kiln::cpu {

void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int64_t image_size,
                   float* images, float* labels) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t source = order[first + b];
    const uint8_t* src = pixels + source * image_size;
    float* dst = images + b * image_size;
    for (int64_t i = 0; i < image_size; ++i) dst[i] = normalise[src[i]];
    labels[b] = static_cast<float>(class_ids[source]);
  }
}

}  // namespace kiln::cpu
