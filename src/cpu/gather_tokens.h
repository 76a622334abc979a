// CPU backend of the token batch gather (see include/kiln/ops/gather_tokens.h).
#pragma once

#include "kiln/ops/gather_tokens.h"

namespace kiln::cpu {
void gather_tokens(const ops::TokenSource& source, const ops::TokenBatch& batch,
                   const ops::TokenOutputs& out);
}  // namespace kiln::cpu
