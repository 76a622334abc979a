// Every kernel file's launcher declarations. No include guard: src/ops/kernels.h
// includes this once per kernel build, with KILN_BACKEND naming the namespace.
// Add a line here when adding a kernels/NAME.cu.
#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/gather_images.h"
#include "kernels/gather_tokens.h"
#include "kernels/linear.h"
#include "kernels/lrn.h"
#include "kernels/matmul.h"
#include "kernels/optimizer.h"
#include "kernels/pool2d.h"
#include "kernels/reduce.h"
#include "kernels/rnn.h"
#include "kernels/sequence_pool.h"
#include "kernels/softmax_cross_entropy.h"
