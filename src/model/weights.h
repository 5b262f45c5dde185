// Internal: binds a GGUF file's tensors to ModelWeights (validating names, shapes and types).
#pragma once

#include <cstdint>
#include <memory>

#include "kvik/model.h"

namespace kvik {

Result<ModelWeights> BindWeights(const gguf::File& file, const ModelConfig& config);

// Copies every Q4_0 and Q8_0 matrix the forward pass multiplies by (InterleavedBytes > 0) into one
// new 64-byte-aligned buffer in the interleaved layout, points the views at it (a tied output and
// its embedding together), and releases the file pages they were read from, so resident memory
// stays about the file's size. Returns the buffer (nullptr when nothing was interleaved).
using RelaidWeights = std::unique_ptr<uint8_t, void (*)(void*)>;
Result<RelaidWeights> InterleaveWeights(ModelWeights& weights, const gguf::File& file);

}  // namespace kvik
