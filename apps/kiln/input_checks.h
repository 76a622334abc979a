// Checks of the data against the model, made after loading and before the first
// step, so a mismatch is named instead of surfacing as a diverged loss.
#pragma once

#include <string>

#include "kiln/data/dataset.h"
#include "kiln/graph/graph.h"

namespace kiln::cli {

// Every label of `data` (split `split` of `dir`) must be below the number of the
// model's outputs (the loss head's logits).
void check_labels(const graph::Graph& graph, const ImageDataset& data, const std::string& dir,
                  const std::string& split);
// The test images must have the training images' size.
void check_same_image_size(const ImageDataset& train, const ImageDataset& test,
                           const std::string& dir);

}  // namespace kiln::cli
