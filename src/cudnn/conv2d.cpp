#include "cudnn/conv2d.h"

#include <cudnn.h>

#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "cuda/check.h"
#include "cudnn/descriptors.h"
#include "cuda/context.h"

namespace kiln::cudnn {

namespace {

class FilterDesc : public Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                                     cudnnDestroyFilterDescriptor> {
 public:
  // Grouped convolutions describe each filter's own input channels (C / groups).
  explicit FilterDesc(const Conv2dGeometry& g) {
    KILN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.k,
                                                g.c / g.groups, g.r, g.s));
  }
};

class ConvDesc : public Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                   cudnnDestroyConvolutionDescriptor> {
 public:
  explicit ConvDesc(const Conv2dGeometry& g) {
    KILN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(get(), g.pad_top, g.pad_left, g.stride_h,
                                                     g.stride_w, g.dilation_h, g.dilation_w,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(get(), g.groups));
    // FMA only: no TF32 tensor-core rounding, so results compare tightly with kiln's.
    KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(get(), CUDNN_FMA_MATH));
  }
};

// Every descriptor one convolution call needs.
struct Descriptors {
  explicit Descriptors(const Conv2dGeometry& g)
      : x(g.n, g.c, g.h, g.w), y(g.n, g.k, g.p, g.q), w(g), conv(g) {}
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
};

// Algorithm cache key: the geometry, the GPU and the determinism request.
using Key = std::tuple<int, bool, std::vector<int>>;

Key make_key(int device_index, const Conv2dGeometry& g, bool deterministic) {
  return {device_index, deterministic,
          {g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride_h, g.stride_w, g.pad_top, g.pad_left,
           g.dilation_h, g.dilation_w, g.groups}};
}

// The most workspace an algorithm may ask for: what the GPU has free when the
// choice is made. cuDNN ranks algorithms by speed alone, and one whose
// workspace cannot be allocated would fail with out-of-memory; the next
// candidate is taken instead.
std::size_t workspace_limit() {
  std::size_t free = 0, total = 0;
  KILN_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

// The first (fastest by cuDNN's heuristics) usable result: it succeeded, uses
// FMA math (the descriptor asks for it; checked, as tensor-core math would round
// through TF32), fits the workspace limit, and is deterministic when that was
// asked for.
template <class Perf>
decltype(Perf::algo) pick(const char* op, const std::vector<Perf>& results, int returned,
                          bool deterministic) {
  const std::size_t limit = workspace_limit();
  for (int i = 0; i < returned; ++i) {
    const Perf& perf = results[i];
    if (perf.status != CUDNN_STATUS_SUCCESS || perf.mathType != CUDNN_FMA_MATH) continue;
    if (deterministic && perf.determinism != CUDNN_DETERMINISTIC) continue;
    if (perf.memory > limit) continue;
    return perf.algo;
  }
  throw Error(detail::concat(op, ": cuDNN offers no ", deterministic ? "deterministic " : "",
                             "FMA algorithm for this shape within the ", limit,
                             " bytes of free GPU memory for its workspace; use engine native"));
}

// Looks `key` up in `cache`, else asks `choose()` and remembers the answer.
template <class Algo, class Choose>
Algo cached(std::map<Key, Algo>& cache, const Key& key, Choose choose) {
  static std::mutex mutex;
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  const Algo algo = choose();
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(key, algo);
  return algo;
}

cudnnConvolutionFwdAlgo_t forward_algo(cudnnHandle_t handle, const Descriptors& d,
                                       const Key& key, bool deterministic) {
  static std::map<Key, cudnnConvolutionFwdAlgo_t> cache;
  return cached(cache, key, [&] {
    int count = 0, returned = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> results(count);
    KILN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
        handle, d.x.get(), d.w.get(), d.conv.get(), d.y.get(), count, &returned, results.data()));
    return pick("conv2d_forward", results, returned, deterministic);
  });
}

cudnnConvolutionBwdDataAlgo_t backward_data_algo(cudnnHandle_t handle, const Descriptors& d,
                                                 const Key& key, bool deterministic) {
  static std::map<Key, cudnnConvolutionBwdDataAlgo_t> cache;
  return cached(cache, key, [&] {
    int count = 0, returned = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> results(count);
    KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
        handle, d.w.get(), d.y.get(), d.conv.get(), d.x.get(), count, &returned, results.data()));
    return pick("conv2d_backward_data", results, returned, deterministic);
  });
}

cudnnConvolutionBwdFilterAlgo_t backward_filter_algo(cudnnHandle_t handle, const Descriptors& d,
                                                     const Key& key, bool deterministic) {
  static std::map<Key, cudnnConvolutionBwdFilterAlgo_t> cache;
  return cached(cache, key, [&] {
    int count = 0, returned = 0;
    KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> results(count);
    KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        handle, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), count, &returned, results.data()));
    return pick("conv2d_backward_filter", results, returned, deterministic);
  });
}

constexpr float kOne = 1.0f, kZero = 0.0f;

}  // namespace

void conv2d_forward(int device_index, const Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, bool deterministic) {
  cuda::Context& ctx = cuda::context(device_index);
  ctx.activate();
  cudnnHandle_t handle = ctx.cudnn();
  const Descriptors d(g);
  const cudnnConvolutionFwdAlgo_t algo =
      forward_algo(handle, d, make_key(device_index, g, deterministic), deterministic);
  std::size_t bytes = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, d.x.get(), d.w.get(),
                                                           d.conv.get(), d.y.get(), algo, &bytes));
  void* workspace = bytes ? ctx.workspace(bytes) : nullptr;
  KILN_CUDNN_CHECK(cudnnConvolutionForward(handle, &kOne, d.x.get(), x, d.w.get(), w,
                                           d.conv.get(), algo, workspace, bytes, &kZero,
                                           d.y.get(), y));
  if (bias) {
    const TensorDesc bias_desc(1, g.k, 1, 1);
    KILN_CUDNN_CHECK(cudnnAddTensor(handle, &kOne, bias_desc.get(), bias, &kOne, d.y.get(), y));
  }
}

void conv2d_backward_data(int device_index, const Conv2dGeometry& g, const float* dy,
                          const float* w, float* dx, bool deterministic) {
  cuda::Context& ctx = cuda::context(device_index);
  ctx.activate();
  cudnnHandle_t handle = ctx.cudnn();
  const Descriptors d(g);
  const cudnnConvolutionBwdDataAlgo_t algo =
      backward_data_algo(handle, d, make_key(device_index, g, deterministic), deterministic);
  std::size_t bytes = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
      handle, d.w.get(), d.y.get(), d.conv.get(), d.x.get(), algo, &bytes));
  void* workspace = bytes ? ctx.workspace(bytes) : nullptr;
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &kOne, d.w.get(), w, d.y.get(), dy,
                                                d.conv.get(), algo, workspace, bytes, &kZero,
                                                d.x.get(), dx));
}

void conv2d_backward_filter(int device_index, const Conv2dGeometry& g, const float* x,
                            const float* dy, float* dw, bool deterministic) {
  cuda::Context& ctx = cuda::context(device_index);
  ctx.activate();
  cudnnHandle_t handle = ctx.cudnn();
  const Descriptors d(g);
  const cudnnConvolutionBwdFilterAlgo_t algo =
      backward_filter_algo(handle, d, make_key(device_index, g, deterministic), deterministic);
  std::size_t bytes = 0;
  KILN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      handle, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), algo, &bytes));
  void* workspace = bytes ? ctx.workspace(bytes) : nullptr;
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &kOne, d.x.get(), x, d.y.get(), dy,
                                                  d.conv.get(), algo, workspace, bytes, &kZero,
                                                  d.w.get(), dw));
}

void conv2d_backward_bias(int device_index, const Conv2dGeometry& g, const float* dy,
                          float* db) {
  cuda::Context& ctx = cuda::context(device_index);
  ctx.activate();
  const TensorDesc dy_desc(g.n, g.k, g.p, g.q), db_desc(1, g.k, 1, 1);
  KILN_CUDNN_CHECK(cudnnConvolutionBackwardBias(ctx.cudnn(), &kOne, dy_desc.get(), dy, &kZero,
                                                db_desc.get(), db));
}

}  // namespace kiln::cudnn
