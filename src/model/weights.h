// Internal: binds a GGUF file's tensors to ModelWeights (validating names, shapes and types).
#pragma once

#include <cstdint>
#include <memory>

#include "kvik/model.h"
#include "util/large_pages.h"

namespace kvik {

Result<ModelWeights> BindWeights(const gguf::File& file, const ModelConfig& config);

// Copies every matrix the forward pass multiplies by into one new buffer backed by huge pages
// (util/large_pages.h: with 4 KiB pages each token's pass over the weights is a TLB miss per page),
// Q4_0 and Q8_0 ones of 16+ rows in the interleaved layout (InterleavedBytes > 0), points the views
// at it (a tied output and its embedding together), and releases the file pages they were read from,
// so resident memory stays about the file's size. An untied embedding, read a row per token, stays
// in the mapping. Returns the buffer.
Result<LargePageBuffer> CopyMatricesToLargePages(ModelWeights& weights, const gguf::File& file);

}  // namespace kvik
