#include "input_checks.h"

#include <algorithm>

#include "kiln/error.h"

namespace kiln::cli {

void check_labels(const graph::Graph& graph, const ImageDataset& data, const std::string& dir,
                  const std::string& split) {
  if (data.labels.empty()) return;
  const std::string logits = graph.loss_layer().inputs()[0];
  const int64_t outputs = graph.shape(logits).at(1);
  const int top = *std::max_element(data.labels.begin(), data.labels.end());
  KILN_CHECK(top < outputs, dir, ": the ", split, " labels go up to ", top, " but the model has ",
             outputs, " outputs ('", logits, "' is ", shape_str(graph.shape(logits)),
             "); give its last layer ", top + 1, " outputs (out_features: ", top + 1, ")");
}

void check_same_image_size(const ImageDataset& train, const ImageDataset& test,
                           const std::string& dir) {
  KILN_CHECK(train.images.rows == test.images.rows && train.images.cols == test.images.cols, dir,
             ": the test images are ", test.images.rows, "x", test.images.cols,
             " but the training images are ", train.images.rows, "x", train.images.cols,
             "; the two splits must come from one data set");
}

}  // namespace kiln::cli
