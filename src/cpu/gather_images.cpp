#include "cpu/gather_images.h"

namespace kiln::cpu {

namespace {

// dst = the normalised image `src` translated by `shift`; background byte 0 outside.
void copy_shifted(const uint8_t* src, int rows, int cols, ImageShift shift,
                  const float* normalise, float* dst) {
  for (int r = 0; r < rows; ++r) {
    const int from_row = r - shift.dy;
    const bool row_inside = from_row >= 0 && from_row < rows;
    for (int c = 0; c < cols; ++c) {
      const int from_col = c - shift.dx;
      const bool inside = row_inside && from_col >= 0 && from_col < cols;
      dst[r * cols + c] = normalise[inside ? src[from_row * cols + from_col] : 0];
    }
  }
}

}  // namespace

void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int rows, int cols,
                   const Augmentation& augment, uint32_t epoch, float* images, float* labels) {
  const int64_t image_size = int64_t{rows} * cols;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t source = order[first + b];
    const uint8_t* src = pixels + source * image_size;
    float* dst = images + b * image_size;
    if (augment.max_shift > 0) {
      copy_shifted(src, rows, cols, image_shift(augment, epoch, static_cast<uint32_t>(first + b)),
                   normalise, dst);
    } else {
      for (int64_t i = 0; i < image_size; ++i) dst[i] = normalise[src[i]];
    }
    labels[b] = static_cast<float>(class_ids[source]);
  }
}

}  // namespace kiln::cpu
