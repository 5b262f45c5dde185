// Validation of a tensor's shape against its type, shared by the reader and the writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik::gguf {

inline constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
// ggml keeps dimensions and element counts in int64_t, so anything above is no real tensor.
inline constexpr uint64_t kMaxDimension = 0x7fffffffffffffffull;

// Ok and *n_bytes set when `dims` (innermost first) is a storable shape for `type`: 1 to 4 dims,
// each at least 1, an element count and byte size that fit in int64/uint64, dims[0] a multiple of
// the block size. Otherwise an error whose message names the problem and the limit, without any
// file or tensor prefix (callers add theirs).
Status CheckShape(const DTypeInfo& type, const std::vector<uint64_t>& dims, uint64_t* n_bytes);

// "[4096, 32000]"
std::string DimsText(const std::vector<uint64_t>& dims);

}  // namespace kvik::gguf
