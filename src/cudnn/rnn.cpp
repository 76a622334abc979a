// cuDNN's RNNs (the v8 API, still the RNN API of cuDNN 9) as the reference for kiln's
// own recurrent kernels. Written without a GPU: every call below was checked, argument by
// argument, against the cuDNN 9.19 headers (cudnn_adv.h, cudnn_ops.h, cudnn_graph.h) and
// the cuDNN 9 API reference; what was checked is noted where it matters:
//
// - cudnnSetRNNDescriptor_v8(desc, algo, cellMode, biasMode, dirMode, inputMode, dataType,
//   mathPrec, mathType, inputSize, hiddenSize, projSize, numLayers, dropoutDesc, auxFlags):
//   CUDNN_RNN_ALGO_STANDARD; CUDNN_RNN_DOUBLE_BIAS (= 2 in cudnn_adv.h: b_ih and b_hh, as
//   PyTorch); CUDNN_LINEAR_INPUT; float data and math precision; CUDNN_FMA_MATH (no TF32,
//   so it compares tightly with kiln); projSize = hiddenSize (projection off);
//   CUDNN_RNN_PADDED_IO_ENABLED, required for the padded (unpacked) layout with lengths.
// - Shapes, devices and lengths are checked by ops::rnn::check_forward / check_backward
//   (the native engine's checks) before anything else.
// - Dropout descriptor: probability 0 needs no RNG state (null, 0 bytes), as PyTorch's
//   no-dropout descriptor does. Dropout > 0 is refused: cuDNN's RNG is not kiln's Philox,
//   so the two engines could not agree.
// - cudnnSetRNNDataDescriptor(desc, dataType, layout, maxSeqLength, batchSize, vectorSize,
//   seqLengthArray, paddingFill): CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED is kiln's
//   [T, B, width] memory; the per-sequence lengths are a host int array, so the [B] lengths
//   tensor is copied to the host (a synchronisation, acceptable on this validation path);
//   paddingFill 0 gives the zero outputs past each sequence's end, as kiln's op.
//   cuDNN rejects zero-length sequences: an error says so (kiln's native engine takes them).
// - States: 3-D tensor descriptors [L*D, B, H], packed strides; cuDNN indexes them
//   layer * D + direction, as kiln and PyTorch do. Null hx/cx mean zero initial states,
//   null hy/cy and dhy/dcy/dhx/dcx mean not wanted / zero.
// - Weights: cudnnGetRNNWeightSpaceSize, then cudnnGetRNNWeightParams(handle, desc,
//   pseudoLayer = layer * D + direction, weightSpaceSize, weightSpace, linLayerID, mDesc,
//   &mAddr, bDesc, &bAddr) per gate: linear-layer ids [0, G) act on the layer input and
//   [G, 2G) on h(t-1), in PyTorch's gate order (LSTM i, f, g, o = 0-3 / 4-7; GRU r, z, n =
//   0-2 / 3-5; RNN 0 / 1); the matrix is {1, H, cols} row-major and the bias {1, H, 1}.
//   Each block is copied from its rows of kiln's weight_ih / weight_hh / bias_ih / bias_hh,
//   and the reported shapes are checked, so a misreading fails loudly on a GPU.
// - cudnnGetRNNTempSpaceSizes(handle, desc, fwdMode, xDesc, &workSpace, &reserveSpace).
// - cudnnRNNForward(handle, desc, fwdMode, devSeqLengths, xDesc, x, yDesc, y, hDesc, hx, hy,
//   cDesc, cx, cy, weightSpaceSize, weightSpace, workSpaceSize, workSpace, reserveSpaceSize,
//   reserveSpace): CUDNN_FWD_MODE_TRAINING keeps the reserve space in
//   RnnReserve::cudnn_reserve; CUDNN_FWD_MODE_INFERENCE passes none. devSeqLengths is an
//   int32 device copy of the lengths (cuDNN's kernels read it asynchronously).
// - cudnnRNNBackwardData_v8(handle, desc, devSeqLengths, yDesc, y, dy, xDesc, dx, hDesc, hx,
//   dhy, dhx, cDesc, cx, dcy, dcx, weightSpaceSize, weightSpace, workSpaceSize, workSpace,
//   reserveSpaceSize, reserveSpace), then cudnnRNNBackwardWeights_v8(handle, desc,
//   addGrad, devSeqLengths, xDesc, x, hDesc, hx, yDesc, y, weightSpaceSize, dweightSpace,
//   workSpaceSize, workSpace, reserveSpaceSize, reserveSpace) with CUDNN_WGRAD_MODE_ADD
//   into a zeroed gradient space (ADD accumulates). Backward data writes into the reserve
//   space (an input/output there), so backward works on a copy and the caller's reserve,
//   const in kiln's API, stays as the forward left it.
//
// Every call rebuilds the descriptors and the weight space; this path checks kiln's
// kernels, it is not meant to be fast.
#include "cudnn/rnn.h"

#include <cudnn.h>

#include <string>
#include <vector>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cudnn/descriptors.h"
#include "ops/rnn_checks.h"

namespace kiln::cudnn {

namespace {

constexpr const char* kOp = "rnn (engine cudnn)";
// kiln's tensors per (layer, direction): weight_ih, weight_hh, bias_ih, bias_hh.
constexpr int kTensorsPerSlot = 4;
enum Slot { kWeightIh = 0, kWeightHh = 1, kBiasIh = 2, kBiasHh = 3 };

using RawTensorDesc = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                 cudnnDestroyTensorDescriptor>;

class DropoutDesc : public Descriptor<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor,
                                      cudnnDestroyDropoutDescriptor> {
 public:
  explicit DropoutDesc(cudnnHandle_t handle) {
    KILN_CUDNN_CHECK(cudnnSetDropoutDescriptor(get(), handle, 0.0f, nullptr, 0, 0));
  }
};

cudnnRNNMode_t cell_mode(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm: return CUDNN_LSTM;
    case RnnMode::gru: return CUDNN_GRU;
    case RnnMode::rnn_tanh: return CUDNN_RNN_TANH;
    case RnnMode::rnn_relu: return CUDNN_RNN_RELU;
  }
  throw Error("rnn: unknown mode");
}

class RnnDesc : public Descriptor<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor,
                                  cudnnDestroyRNNDescriptor> {
 public:
  RnnDesc(const RnnConfig& c, const DropoutDesc& dropout) {
    KILN_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        get(), CUDNN_RNN_ALGO_STANDARD, cell_mode(c.mode), CUDNN_RNN_DOUBLE_BIAS,
        c.bidirectional ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
        CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, c.input_size, c.hidden_size,
        /*projSize=*/c.hidden_size, c.num_layers, dropout.get(), CUDNN_RNN_PADDED_IO_ENABLED));
  }
};

// [T, B, width] sequence-major, padded, with each sequence's length.
class RnnDataDesc : public Descriptor<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor,
                                      cudnnDestroyRNNDataDescriptor> {
 public:
  RnnDataDesc(int steps, const std::vector<int>& lengths, int width) {
    KILN_CUDNN_CHECK(cudnnSetRNNDataDescriptor(
        get(), CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, steps,
        static_cast<int>(lengths.size()), width, lengths.data(), &fill_));
  }

 private:
  float fill_ = 0.0f;  // outputs past a sequence's end
};

// [L*D, B, H], packed.
class StateDesc : public RawTensorDesc {
 public:
  StateDesc(int slots, int batch, int hidden) {
    const int dims[3] = {slots, batch, hidden};
    const int strides[3] = {batch * hidden, hidden, 1};
    KILN_CUDNN_CHECK(cudnnSetTensorNdDescriptor(get(), CUDNN_DATA_FLOAT, 3, dims, strides));
  }
};

void check_supported(const RnnConfig& config) {
  KILN_CHECK(!config.peepholes, kOp, ": cuDNN has no peephole LSTM; use engine native (kiln's ",
             "kernels implement peepholes)");
  KILN_CHECK(config.dropout == 0.0f, kOp, ": dropout ", config.dropout, " between layers is not ",
             "supported (cuDNN's dropout RNG differs from kiln's Philox); use engine native");
}

// The lengths as host ints (all T when null); a synchronisation when given.
std::vector<int> host_lengths(const Tensor* lengths, int steps, int batch) {
  if (!lengths) return std::vector<int>(batch, steps);
  const std::vector<float> values = lengths->to_vector();
  std::vector<int> result(batch);
  for (int b = 0; b < batch; ++b) {
    const float v = values[b];
    KILN_CHECK(v >= 1.0f, kOp, ": sequence ", b, " has length ", v, "; cuDNN rejects ",
               "zero-length sequences: give them length 1 and ignore their outputs, or use ",
               "engine native");
    KILN_CHECK(v <= static_cast<float>(steps) && static_cast<float>(static_cast<int>(v)) == v,
               kOp, ": length ", v, " of sequence ", b, " is not an integer in 1..", steps);
    result[b] = static_cast<int>(v);
  }
  return result;
}

rt::Buffer device_lengths(const Device& device, const std::vector<int>& lengths) {
  rt::Buffer buffer(device, sizeof(int32_t) * lengths.size());
  rt::runtime(device).copy_from_host(buffer.data(), lengths.data(), buffer.bytes());
  return buffer;
}

// Everything one forward or backward call needs.
struct Setup {
  Setup(const RnnConfig& config, const Tensor& x, const Tensor* lengths, cudnnHandle_t handle)
      : steps(static_cast<int>(x.dim(0))),
        batch(static_cast<int>(x.dim(1))),
        lengths(host_lengths(lengths, steps, batch)),
        dev_lengths(device_lengths(x.device(), this->lengths)),
        dropout(handle),
        rnn(config, dropout),
        x_desc(steps, this->lengths, config.input_size),
        y_desc(steps, this->lengths, config.hidden_size * config.directions()),
        h_desc(config.num_layers * config.directions(), batch, config.hidden_size) {
    KILN_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle, rnn.get(), &weight_bytes));
  }
  const int32_t* seq_lengths() const { return dev_lengths.as<int32_t>(); }

  int steps, batch;
  std::vector<int> lengths;
  rt::Buffer dev_lengths;
  DropoutDesc dropout;  // before rnn: the RNN descriptor refers to it
  RnnDesc rnn;
  RnnDataDesc x_desc, y_desc;
  StateDesc h_desc;  // h and c alike (no projection)
  std::size_t weight_bytes = 0;
};

// The shape cuDNN reports for a gate's matrix ({1, H, cols}, row-major) or bias ({1, H, 1}).
void check_block(const RawTensorDesc& desc, const void* addr, int rows, int64_t cols,
                 const char* what, int pseudo_layer, int lin_layer) {
  cudnnDataType_t type;
  int nb = 0, dims[3] = {0, 0, 0}, strides[3] = {0, 0, 0};
  KILN_CUDNN_CHECK(cudnnGetTensorNdDescriptor(desc.get(), 3, &type, &nb, dims, strides));
  const bool ok = addr && type == CUDNN_DATA_FLOAT && nb == 3 && dims[0] == 1 &&
                  dims[1] == rows && dims[2] == cols && strides[2] == 1 && strides[1] == cols;
  KILN_CHECK(ok, kOp, ": cuDNN reports the ", what, " of pseudo-layer ", pseudo_layer,
             ", linear layer ", lin_layer, " as {", dims[0], ", ", dims[1], ", ", dims[2],
             "} strides {", strides[0], ", ", strides[1], ", ", strides[2], "}, not {1, ", rows,
             ", ", cols, "} packed: kiln's weight mapping does not hold for this cuDNN");
}

// Calls copy(tensor index, float offset in that tensor, address in the space, floats) for
// every gate block of every weight and bias of `space` (a weight or gradient space).
template <class Copy>
void for_each_block(cudnnHandle_t handle, const Setup& s, const RnnConfig& config, void* space,
                    Copy copy) {
  const int gates = rnn_gate_count(config.mode), hidden = config.hidden_size;
  const int directions = config.directions();
  RawTensorDesc m_desc, b_desc;
  for (int slot = 0; slot < config.num_layers * directions; ++slot) {
    const int64_t in = slot < directions ? config.input_size : int64_t{hidden} * directions;
    for (int id = 0; id < 2 * gates; ++id) {
      const bool recurrent = id >= gates;
      const int64_t cols = recurrent ? hidden : in;
      void* m = nullptr;
      void* b = nullptr;
      KILN_CUDNN_CHECK(cudnnGetRNNWeightParams(handle, s.rnn.get(), slot, s.weight_bytes, space,
                                               id, m_desc.get(), &m, b_desc.get(), &b));
      check_block(m_desc, m, hidden, cols, "matrix", slot, id);
      check_block(b_desc, b, hidden, 1, "bias", slot, id);
      const int base = slot * kTensorsPerSlot, gate = id % gates;
      copy(base + (recurrent ? kWeightHh : kWeightIh), gate * hidden * cols,
           static_cast<float*>(m), hidden * cols);
      copy(base + (recurrent ? kBiasHh : kBiasIh), int64_t{gate} * hidden,
           static_cast<float*>(b), int64_t{hidden});
    }
  }
}

rt::Buffer weight_space(cudnnHandle_t handle, const Setup& s, const RnnConfig& config,
                        const std::vector<const Tensor*>& params, const Device& device) {
  rt::Buffer space(device, s.weight_bytes);
  rt::DeviceRuntime& rt = rt::runtime(device);
  for_each_block(handle, s, config, space.data(),
                 [&](int tensor, int64_t offset, float* addr, int64_t count) {
                   rt.copy_within(addr, params[tensor]->data() + offset, sizeof(float) * count);
                 });
  return space;
}

const void* data_or_null(const Tensor* t) { return t ? t->data() : nullptr; }
void* data_or_null(Tensor* t) { return t ? t->data() : nullptr; }

}  // namespace

void rnn_forward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                 const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                 Tensor& y, Tensor* hn, Tensor* cn, RnnReserve* reserve,
                 const RnnDropout& /*dropout: refused by check_supported*/) {
  ops::rnn::check_forward(config, params, x, lengths, h0, c0, y, hn, cn);
  check_supported(config);
  cuda::Context& ctx = cuda::context(x.device().index);
  ctx.activate();
  cudnnHandle_t handle = ctx.cudnn();
  const Setup s(config, x, lengths, handle);
  const rt::Buffer weights = weight_space(handle, s, config, params, x.device());
  const cudnnForwardMode_t mode = reserve ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  std::size_t work_bytes = 0, reserve_bytes = 0;
  KILN_CUDNN_CHECK(
      cudnnGetRNNTempSpaceSizes(handle, s.rnn.get(), mode, s.x_desc.get(), &work_bytes,
                                &reserve_bytes));
  void* work = work_bytes ? ctx.workspace(work_bytes) : nullptr;
  void* reserve_space = nullptr;
  if (reserve) {
    reserve->saved.clear();
    reserve->cudnn_reserve = rt::Buffer(x.device(), reserve_bytes);
    reserve_space = reserve->cudnn_reserve.data();
  }
  const bool lstm = config.mode == RnnMode::lstm;
  KILN_CUDNN_CHECK(cudnnRNNForward(
      handle, s.rnn.get(), mode, s.seq_lengths(), s.x_desc.get(), x.data(), s.y_desc.get(),
      y.data(), s.h_desc.get(), data_or_null(h0), data_or_null(hn), s.h_desc.get(),
      lstm ? data_or_null(c0) : nullptr, lstm ? data_or_null(cn) : nullptr, s.weight_bytes,
      weights.data(), work_bytes, work, reserve_bytes, reserve_space));
}

void rnn_backward(const RnnConfig& config, const std::vector<const Tensor*>& params,
                  const Tensor& x, const Tensor* lengths, const Tensor* h0, const Tensor* c0,
                  const Tensor& y, const Tensor& dy, const Tensor* dhn, const Tensor* dcn,
                  const RnnReserve& reserve, Tensor* dx, Tensor* dh0, Tensor* dc0,
                  const std::vector<Tensor*>& grads, const RnnDropout& /*dropout*/) {
  ops::rnn::check_backward(config, params, x, lengths, h0, c0, y, dy, dhn, dcn, dx, dh0, dc0,
                           grads);
  check_supported(config);
  const Device& device = x.device();
  cuda::Context& ctx = cuda::context(device.index);
  ctx.activate();
  cudnnHandle_t handle = ctx.cudnn();
  const Setup s(config, x, lengths, handle);
  const rt::Buffer weights = weight_space(handle, s, config, params, device);
  std::size_t work_bytes = 0, reserve_bytes = 0;
  KILN_CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(handle, s.rnn.get(), CUDNN_FWD_MODE_TRAINING,
                                             s.x_desc.get(), &work_bytes, &reserve_bytes));
  KILN_CHECK(reserve.cudnn_reserve.data() && reserve.cudnn_reserve.bytes() == reserve_bytes,
             kOp, ": the reserve holds ", reserve.cudnn_reserve.bytes(), " bytes of cuDNN ",
             "reserve space, this shape needs ", reserve_bytes, "; run rnn_forward with engine ",
             "cudnn and a reserve (training) on the same inputs first");
  rt::DeviceRuntime& rt = rt::runtime(device);
  rt::Buffer reserve_copy(device, reserve_bytes);
  rt.copy_within(reserve_copy.data(), reserve.cudnn_reserve.data(), reserve_bytes);
  void* work = work_bytes ? ctx.workspace(work_bytes) : nullptr;

  // cuDNN always computes dx; a scratch one when the caller does not want it.
  Tensor dx_scratch = dx ? Tensor() : Tensor(x.shape(), device);
  float* dx_data = dx ? dx->data() : dx_scratch.data();
  // Zero first: padded steps get no gradient whether or not cuDNN writes them.
  rt.memset(dx_data, 0, sizeof(float) * x.numel());
  const bool lstm = config.mode == RnnMode::lstm;
  KILN_CUDNN_CHECK(cudnnRNNBackwardData_v8(
      handle, s.rnn.get(), s.seq_lengths(), s.y_desc.get(), y.data(), dy.data(), s.x_desc.get(),
      dx_data, s.h_desc.get(), data_or_null(h0), data_or_null(dhn), data_or_null(dh0),
      s.h_desc.get(), lstm ? data_or_null(c0) : nullptr, lstm ? data_or_null(dcn) : nullptr,
      lstm ? data_or_null(dc0) : nullptr, s.weight_bytes, weights.data(), work_bytes, work,
      reserve_bytes, reserve_copy.data()));

  rt::Buffer dweights(device, s.weight_bytes);
  rt.memset(dweights.data(), 0, s.weight_bytes);  // CUDNN_WGRAD_MODE_ADD accumulates
  KILN_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(
      handle, s.rnn.get(), CUDNN_WGRAD_MODE_ADD, s.seq_lengths(), s.x_desc.get(), x.data(),
      s.h_desc.get(), data_or_null(h0), s.y_desc.get(), y.data(), s.weight_bytes,
      dweights.data(), work_bytes, work, reserve_bytes, reserve_copy.data()));
  for_each_block(handle, s, config, dweights.data(),
                 [&](int tensor, int64_t offset, float* addr, int64_t count) {
                   rt.copy_within(grads[tensor]->data() + offset, addr, sizeof(float) * count);
                 });
}

}  // namespace kiln::cudnn
