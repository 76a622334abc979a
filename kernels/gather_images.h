// Launchers of kernels/gather_images.cu. No include guard: src/ops/kernels.h includes
// this once per kernel build (KILN_BACKEND = simt_kernels, cuda_kernels).
#include <cstdint>

#include "kiln/data/augment.h"
#include "kiln/runtime.h"

namespace kiln::KILN_BACKEND {
// For b in [0, batch): images[b] = normalise[pixels[order[first + b]]] (each image
// rows x cols bytes) and labels[b] = class_ids[order[first + b]].
// `normalise` is a 256-entry table of the normalised value of each pixel byte.
// Image b is translated by image_shift(augment, epoch, first + b), reading byte 0
// where the shifted position falls outside the image.
void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int rows, int cols,
                   const Augmentation& augment, uint32_t epoch, float* images, float* labels,
                   rt::Stream stream);
}  // namespace kiln::KILN_BACKEND
