// Shared GoogleTest main: states what this run exercises.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "kiln/device.h"
#include "simt/simt.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  std::string why;
  const int gpus = kiln::cuda_device_count(&why);
  std::cout << "[kiln] simt schedule: " << kiln::simt::schedule().str()
            << (kiln::simt::memcheck() ? ", memcheck on" : "") << ", grid-stride cap "
            << kiln::simt::max_grid_stride_blocks() << " blocks\n"
            << "[kiln] cuda GPUs: " << gpus << (gpus ? "" : " (" + why + "; GPU tests skip)")
            << "\n";
  const int status = RUN_ALL_TESTS();
  const kiln::simt::Stats s = kiln::simt::stats();
  std::cout << "[kiln] simt emulator ran " << s.launches << " kernel launches, " << s.blocks
            << " blocks, " << s.threads << " threads, " << s.switches
            << " fiber switches under schedule " << kiln::simt::schedule().str() << "\n";
  return status;
}
