// Scaled dot-product attention of one query head over a sequence's cached keys and values, read
// through the paged KV cache. The same routine serves prefill (each prompt row attends to its causal
// prefix) and decode (the newest row attends to everything), which is what makes cached decode
// bit-identical to recompute; and it walks positions in order whatever the block size, so a paged
// cache gives the same bits as a dense one.
#pragma once

#include <cstdint>

#include "kvik/kv_cache.h"

namespace kvik {

// Largest head size attention supports (its scratch rows live on the stack).
inline constexpr int64_t kMaxHeadDim = 512;

// out = softmax(q·Kᵀ / sqrt(head_dim)) · V over positions [first, end) of `kv`.
// One pass over K and V (online softmax, Milakov & Gimelshein 2018, as in FlashAttention): keys are
// scored a tile at a time, the running maximum rescales the accumulator, and no score row of the
// context's length is ever stored.
void AttendHead(const KvHeadView& kv, int64_t first, int64_t end, const float* q, float* out);

// The two-pass reference (scores for every position, softmax, weighted sum) the tests hold the
// streaming kernel to.
void AttendHeadReference(const KvHeadView& kv, int64_t first, int64_t end, const float* q,
                         float* out);

}  // namespace kvik
