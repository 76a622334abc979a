// The model files in models/ build, with the documented shapes and parameter
// counts (needs the conv2d and pool2d shape functions).
#include <gtest/gtest.h>

#include <string>

#include "kiln/graph/model_file.h"

namespace kiln {
namespace {

std::string model_path(const std::string& name) {
  const std::string here = __FILE__;  // tests/train/models_test.cpp
  return here.substr(0, here.rfind("/tests/")) + "/models/" + name;
}

int64_t parameter_count(graph::Graph& g) {
  int64_t n = 0;
  for (graph::Param* p : g.params()) n += p->value.numel();
  return n;
}

TEST(Models, LeNet5) {
  graph::Graph g = graph::load_model(model_path("lenet5.yaml"), Device::cpu(), {});
  EXPECT_EQ(g.shape("pool1"), (Shape{1, 6, 14, 14}));
  EXPECT_EQ(g.shape("pool2"), (Shape{1, 16, 5, 5}));
  EXPECT_EQ(g.shape("fc3"), (Shape{1, 10}));
  EXPECT_EQ(g.param("conv2.weight").value.shape(), (Shape{16, 6, 5, 5}));
  EXPECT_EQ(parameter_count(g), 61706);
}

TEST(Models, CaffeLeNet) {
  graph::Graph g = graph::load_model(model_path("caffe_lenet.yaml"), Device::cpu(), {});
  EXPECT_EQ(g.shape("pool2"), (Shape{1, 50, 4, 4}));
  EXPECT_EQ(parameter_count(g), 431080);
}

TEST(Models, AlexNetMnist) {
  graph::Graph g = graph::load_model(model_path("alexnet_mnist.yaml"), Device::cpu(), {});
  EXPECT_EQ(g.shape("pool1"), (Shape{1, 32, 13, 13}));
  EXPECT_EQ(g.shape("pool2"), (Shape{1, 64, 6, 6}));
  EXPECT_EQ(g.shape("pool5"), (Shape{1, 64, 2, 2}));
  EXPECT_EQ(g.param("conv2.weight").value.shape(), (Shape{64, 16, 5, 5}));  // groups 2
  EXPECT_EQ(g.param("fc6.weight").value.shape(), (Shape{512, 256}));
  // conv 832 + 25664 + 55392 + 41568 + 27712, fc 131584 + 262656 + 5130
  EXPECT_EQ(parameter_count(g), 550538);
}

}  // namespace
}  // namespace kiln
