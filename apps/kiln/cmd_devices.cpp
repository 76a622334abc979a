// `kiln devices`: what kiln can run on here.
#include <cblas.h>
#include <omp.h>

#include <fstream>
#include <iostream>
#include <string>

#include "commands.h"
#include "cpu/isa.h"
#include "kiln/device.h"
#include "openmp_waiting.h"
#include "simt/simt.h"

namespace kiln::cli {

namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

void print_devices() {
  const cpu::Isa isa = cpu::active_isa();  // may throw for a bad KILN_CPU_ISA: before printing
  std::cout << "cpu     " << cpu_model() << ", " << omp_get_num_procs() << " cores, "
            << omp_get_max_threads() << " OpenMP threads; BLAS: " << openblas_get_config()
            << "\n";
  std::cout << "        waiting between parallel regions: " << openmp_wait_policy() << "\n";
  std::cout << "        kernel variant " << cpu::isa_name(isa) << ": "
            << cpu::active_isa_reason() << "; supported: " << cpu::supported_isa_names() << "\n";
  std::cout << "simt    SIMT emulator (kiln's CUDA kernels on the CPU), schedule "
            << simt::schedule().str() << "\n";
  std::string why;
  const int gpus = cuda_device_count(&why);
  if (gpus == 0) {
    std::cout << "cuda    none: " << why << "\n";
    return;
  }
  for (int i = 0; i < gpus; ++i) {
    const GpuInfo g = gpu_info(i);
    std::cout << "cuda:" << i << "  " << g.name << ", compute capability " << g.compute_major
              << "." << g.compute_minor << ", " << g.multiprocessors << " SMs, "
              << g.memory_bytes / (1024 * 1024) << " MiB; cuDNN " << g.cudnn_version
              << ", cuBLAS " << g.cublas_version << "\n";
  }
}

}  // namespace

void add_devices_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "devices", "List the devices kiln can use: cpu, simt and each CUDA GPU");
  cmd->callback(print_devices);
}

}  // namespace kiln::cli
