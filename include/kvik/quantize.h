// Row conversion between f32 and every computable storage type (F32, F16, BF16, Q8_0, Q4_0).
// Quantization is deterministic (same input → same bytes), so conversions are reproducible.
#pragma once

#include <cstdint>

#include "kvik/dtype.h"

namespace kvik {

// `n` must be a multiple of the type's block size; `dst` holds RowBytes(type, n) bytes.
void QuantizeRow(DType type, const float* src, int64_t n, uint8_t* dst);
// Inverse of QuantizeRow (exact for F32; the rounding of the type otherwise).
void DequantizeRow(DType type, const uint8_t* src, int64_t n, float* dst);

}  // namespace kvik
