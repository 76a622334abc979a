// The device-runtime layer on a real GPU: CUDA runtime calls on the device's one
// compute stream, memory from the caching allocator.
#include <mutex>
#include <vector>

#include "core/cuda_hooks.h"
#include "cuda/check.h"
#include "cuda/context.h"

namespace kiln::cuda {

Context::Context(int index) : index_(index) {
  activate();
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  allocator_ = std::make_unique<CachingAllocator>(
      [this](std::size_t bytes) -> void* {
        activate();
        void* p = nullptr;
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
          cudaGetLastError();  // clear the sticky-free error so the caller can retry
          return nullptr;
        }
        return p;
      },
      [this](void* p) {
        // Runs from destructors (Buffer, ~Context): after a sticky GPU error
        // cudaSetDevice fails too, and a throw here would end the process in
        // static destruction and bury the original error. Errors are ignored:
        // the memory goes when the context does.
        cudaSetDevice(index_);
        cudaFree(p);
      });
}

Context::~Context() {
  // Process exit: the driver may already be shutting down, or a sticky error
  // may have broken the context, so errors are ignored (nothing here throws).
  cudaSetDevice(index_);
  cudaStreamSynchronize(stream_);
  if (workspace_) allocator_->free(workspace_);
  allocator_.reset();
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  cudaStreamDestroy(stream_);
}

void Context::activate() const { KILN_CUDA_CHECK(cudaSetDevice(index_)); }

cublasHandle_t Context::cublas() {
  if (!cublas_) {
    activate();
    KILN_CUBLAS_CHECK(cublasCreate(&cublas_));
    KILN_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // FP32 FMA math, never TF32: CUBLAS_DEFAULT_MATH keeps at least the
    // requested precision, so cublasSgemm does not use TF32 (that takes
    // CUBLAS_TF32_TENSOR_OP_MATH); CUBLAS_PEDANTIC_MATH is a debugging mode.
    KILN_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}

cudnnHandle_t Context::cudnn() {
  if (!cudnn_) {
    activate();
    KILN_CUDNN_CHECK(cudnnCreate(&cudnn_));
    KILN_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

void* Context::workspace(std::size_t bytes) {
  if (bytes > workspace_bytes_) {
    if (workspace_) allocator_->free(workspace_);  // stream-ordered: safe to reuse
    workspace_ = allocator_->alloc(bytes);
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

Context& context(int index) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<Context>> contexts;
  std::lock_guard<std::mutex> lock(mutex);
  if (contexts.empty()) contexts.resize(cuda_hooks::device_count(nullptr));
  KILN_CHECK(index >= 0 && index < static_cast<int>(contexts.size()), "no CUDA GPU ", index);
  if (!contexts[index]) contexts[index] = std::make_unique<Context>(index);
  return *contexts[index];
}

const char* cublas_status_name(cublasStatus_t status) { return cublasGetStatusString(status); }

namespace {

class CudaRuntime final : public rt::DeviceRuntime {
 public:
  explicit CudaRuntime(Context& ctx) : ctx_(ctx) {}
  void* alloc(std::size_t bytes) override { return ctx_.allocator().alloc(bytes); }
  void free(void* ptr) override { ctx_.allocator().free(ptr); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    copy(dst, src, bytes, cudaMemcpyDeviceToHost);
    KILN_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream()));
  }
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    copy(dst, src, bytes, cudaMemcpyHostToDevice);
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    copy(dst, src, bytes, cudaMemcpyDeviceToDevice);
  }
  void memset(void* ptr, int value, std::size_t bytes) override {
    ctx_.activate();
    KILN_CUDA_CHECK(cudaMemsetAsync(ptr, value, bytes, ctx_.stream()));
  }
  rt::Stream compute_stream() override {
    ctx_.activate();
    return {ctx_.stream()};
  }
  void synchronize() override {
    ctx_.activate();
    KILN_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream()));
  }
  void empty_cache() override { ctx_.allocator().empty_cache(); }

 private:
  void copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
    ctx_.activate();
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, ctx_.stream()));
  }
  Context& ctx_;
};

}  // namespace
}  // namespace kiln::cuda

namespace kiln::cuda_hooks {

int device_count(std::string* why_none) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (why_none) *why_none = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && why_none) *why_none = "the CUDA driver reports no GPU";
  return count;
}

GpuInfo gpu_info(int index) {
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  GpuInfo info;
  info.name = prop.name;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.memory_bytes = prop.totalGlobalMem;
  const size_t cudnn = cudnnGetVersion();  // e.g. 91900 for 9.19.0
  info.cudnn_version = std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) +
                       "." + std::to_string(cudnn % 100);
  int cublas = 0;
  KILN_CUBLAS_CHECK(cublasGetVersion(cuda::context(index).cublas(), &cublas));
  info.cublas_version = std::to_string(cublas / 10000) + "." + std::to_string(cublas / 100 % 100) +
                        "." + std::to_string(cublas % 100);
  return info;
}

rt::DeviceRuntime& runtime(int index) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<cuda::CudaRuntime>> runtimes;
  cuda::Context& ctx = cuda::context(index);
  std::lock_guard<std::mutex> lock(mutex);
  if (runtimes.size() <= static_cast<size_t>(index)) runtimes.resize(index + 1);
  if (!runtimes[index]) runtimes[index] = std::make_unique<cuda::CudaRuntime>(ctx);
  return *runtimes[index];
}

void* event_create(int index) {
  cuda::context(index).activate();
  cudaEvent_t event = nullptr;
  KILN_CUDA_CHECK(cudaEventCreate(&event));
  return event;
}
void event_destroy(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
void event_record(void* event, int index) {
  KILN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), cuda::context(index).stream()));
}
void event_synchronize(void* event) {
  KILN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
}
float event_elapsed_ms(void* start, void* end) {
  float ms = 0;
  KILN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end)));
  KILN_CUDA_CHECK(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
  return ms;
}

}  // namespace kiln::cuda_hooks
