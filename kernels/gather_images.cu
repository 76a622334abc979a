// Batch gather for the device-resident data set: each block copies whole images
// (grid-stride over the batch, so one block per image up to the grid cap) from the
// uint8 data set at permuted positions into a float batch, normalising through a
// 256-entry table; thread 0 of the block also writes the image's label. With
// augmentation every thread of the block draws the image's shift (one Philox block,
// kiln/data/augment.h) and reads its pixels from the shifted position, pixels
// shifted in from outside being the background byte 0.
// Shared memory: the table (1 KiB), loaded once per block by its 256 threads, so each
// pixel costs one byte read, one shared-memory read and one float write.
// Memory-bound: 5 bytes of DRAM traffic per pixel (a 128x784 MNIST batch moves
// ~0.5 MB, microseconds at HBM bandwidth; launch latency dominates).
// The table makes the result bit-identical to the host formula on every device
// (no FMA contraction differences between nvcc and g++).
// Versions: v1 coalesced byte reads within an image; v2 adds the translation
// (the reads stay row-contiguous, shifted by dx).
#include "kernels/common.cuh"
#include "kernels/gather_images.h"
#include "kiln/data/augment.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;  // = table entries: one load per thread

__global__ void gather_images_kernel(const uint8_t* __restrict__ pixels,
                                     const uint8_t* __restrict__ class_ids,
                                     const int32_t* __restrict__ order,
                                     const float* __restrict__ normalise, int64_t first,
                                     int64_t batch, int rows, int cols, Augmentation augment,
                                     uint32_t epoch, float* __restrict__ images,
                                     float* __restrict__ labels) {
  __shared__ float table[kThreads];
  table[threadIdx.x] = normalise[threadIdx.x];
  __syncthreads();
  const int image_size = rows * cols;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const int64_t source = order[first + b];
    const uint8_t* src = pixels + source * image_size;
    float* dst = images + b * image_size;
    const ImageShift shift = image_shift(augment, epoch, static_cast<uint32_t>(first + b));
    for (int i = threadIdx.x; i < image_size; i += blockDim.x) {
      const int r = i / cols - shift.dy, c = i % cols - shift.dx;
      const bool inside = r >= 0 && r < rows && c >= 0 && c < cols;
      dst[i] = table[inside ? src[r * cols + c] : 0];
    }
    if (threadIdx.x == 0) labels[b] = static_cast<float>(class_ids[source]);
  }
}

}  // namespace

void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int rows, int cols,
                   const Augmentation& augment, uint32_t epoch, float* images, float* labels,
                   rt::Stream s) {
  const unsigned max_blocks = max_grid_stride_blocks();
  const dim3 grid(static_cast<unsigned>(batch < max_blocks ? batch : max_blocks));
  launch(gather_images_kernel, grid, dim3(kThreads), 0, s, pixels, class_ids, order, normalise,
         first, batch, rows, cols, augment, epoch, images, labels);
}

}  // namespace kiln::KILN_BACKEND
