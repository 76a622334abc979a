// Batch gather for the device-resident data set: each block copies whole images
// (grid-stride over the batch, so one block per image up to the grid cap) from the
// uint8 data set at permuted positions into a float batch, normalising through a
// 256-entry table; thread 0 of the block also writes the image's label.
// Shared memory: the table (1 KiB), loaded once per block by its 256 threads, so each
// pixel costs one byte read, one shared-memory read and one float write.
// Memory-bound: 5 bytes of DRAM traffic per pixel (a 128x784 MNIST batch moves
// ~0.5 MB, microseconds at HBM bandwidth; launch latency dominates).
// The table makes the result bit-identical to the host formula on every device
// (no FMA contraction differences between nvcc and g++).
// Versions: v1 only (coalesced byte reads within an image; rows are contiguous).
#include "kernels/common.cuh"
#include "kernels/gather_images.h"

namespace kiln::KILN_BACKEND {

namespace {

constexpr int kThreads = 256;  // = table entries: one load per thread

__global__ void gather_images_kernel(const uint8_t* __restrict__ pixels,
                                     const uint8_t* __restrict__ class_ids,
                                     const int32_t* __restrict__ order,
                                     const float* __restrict__ normalise, int64_t first,
                                     int64_t batch, int64_t image_size,
                                     float* __restrict__ images, float* __restrict__ labels) {
  __shared__ float table[kThreads];
  table[threadIdx.x] = normalise[threadIdx.x];
  __syncthreads();
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const int64_t source = order[first + b];
    const uint8_t* src = pixels + source * image_size;
    float* dst = images + b * image_size;
    for (int64_t i = threadIdx.x; i < image_size; i += blockDim.x) dst[i] = table[src[i]];
    if (threadIdx.x == 0) labels[b] = static_cast<float>(class_ids[source]);
  }
}

}  // namespace

void gather_images(const uint8_t* pixels, const uint8_t* class_ids, const int32_t* order,
                   const float* normalise, int64_t first, int64_t batch, int64_t image_size,
                   float* images, float* labels, rt::Stream s) {
  constexpr unsigned kMaxBlocks = 4096;
  const dim3 grid(static_cast<unsigned>(batch < kMaxBlocks ? batch : kMaxBlocks));
  launch(gather_images_kernel, grid, dim3(kThreads), 0, s, pixels, class_ids, order, normalise,
         first, batch, image_size, images, labels);
}

}  // namespace kiln::KILN_BACKEND
