// Scaled dot-product attention of one query head over cached keys and values.
// The same routine serves prefill (each prompt row attends to its causal prefix) and decode (the
// newest row attends to everything), which is what makes cached decode bit-identical to recompute.
#pragma once

#include <cstdint>

#include "kvik/dtype.h"

namespace kvik {

struct HeadAttentionInput {
  const uint8_t* keys = nullptr;    // (n_ctx, head_dim) rows of `dtype`, contiguous
  const uint8_t* values = nullptr;  // (n_ctx, head_dim) rows of `dtype`, contiguous
  DType dtype = DType::kF32;
  int64_t head_dim = 0;
  int64_t n_ctx = 0;                // positions 0 .. n_ctx-1 are visible (causal prefix)
};

// out = softmax(q·Kᵀ / sqrt(head_dim)) · V. `scores` holds n_ctx floats of scratch, `row` head_dim.
void AttendHead(const HeadAttentionInput& in, const float* q, float* out, float* scores, float* row);

}  // namespace kvik
