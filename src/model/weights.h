// Internal: binds a GGUF file's tensors to ModelWeights (validating names, shapes and types).
#pragma once

#include "kvik/model.h"

namespace kvik {

Result<ModelWeights> BindWeights(const gguf::File& file, const ModelConfig& config);

}  // namespace kvik
