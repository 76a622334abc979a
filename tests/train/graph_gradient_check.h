// Finite-difference gradient check of a whole graph on cpu: the loss gradient of every
// parameter from backward() against central differences of the loss (as in Caffe's
// GradientChecker).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "kiln/graph/model_file.h"
#include "support/op_test.h"

namespace kiln::test {

// Sets the batch and fills every input of a built graph.
using FillInputs = std::function<void(graph::Graph&)>;

// Builds `model` on cpu (seed 4), fills its inputs and expects every parameter's
// gradient to match central differences of the value "loss".
inline void check_gradients(const std::string& model, const FillInputs& fill) {
  graph::GraphOptions options;
  options.seed = 4;
  graph::Graph g(Device::cpu(), options);
  graph::add_model_yaml(g, model);
  g.build();
  fill(g);
  const graph::RunContext ctx = g.context(true, 0);
  auto loss = [&] {
    g.forward(ctx);
    return static_cast<double>(g.value("loss").to_vector()[0]);
  };
  loss();
  g.backward(ctx);
  for (graph::Param* p : g.params()) {
    const std::vector<float> analytic = p->grad.to_vector();
    std::vector<float> values = p->value.to_vector();
    std::vector<double> numeric(values.size());
    const float h = 1e-3f;
    for (size_t i = 0; i < values.size(); ++i) {
      const float saved = values[i];
      values[i] = saved + h;
      p->value.copy_from(Tensor::from_vector(values, p->value.shape(), Device::cpu()));
      const double plus = loss();
      values[i] = saved - h;
      p->value.copy_from(Tensor::from_vector(values, p->value.shape(), Device::cpu()));
      const double minus = loss();
      values[i] = saved;
      numeric[i] = (plus - minus) / (2.0 * h);
    }
    p->value.copy_from(Tensor::from_vector(values, p->value.shape(), Device::cpu()));
    // The loss is a float32 mean of order 1: rounding ~1.3e-7 per evaluation,
    // divided by 2h = 2e-3, gives ~7e-5; the O(h^2) truncation of central
    // differences is ~1e-6 * |f'''|. 2e-3 covers both and still catches any wrong
    // term. Max pooling is piecewise linear: h is small enough (sigmoid outputs
    // move by at most ~2.5e-4) that no window of these fixed inputs changes its
    // winner; with h = 1e-2 ten elements of conv1.weight did, which shows up as a
    // reproducible failure at those elements, not as noise.
    EXPECT_TRUE(test::all_close(analytic, numeric, 2e-3, 2e-2)) << p->name;
  }
}

}  // namespace kiln::test
