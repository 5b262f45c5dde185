// Scaled dot-product attention of the query heads that share one KV head, over a sequence's cached
// keys and values read through the paged KV cache. The same routine serves prefill (each prompt row
// attends to its causal prefix) and decode (the newest row attends to everything), which is what
// makes cached decode bit-identical to recompute; and it walks positions in order whatever the
// block size, so a paged cache gives the same bits as a dense one.
#pragma once

#include <cstdint>
#include <span>

#include "kvik/kv_cache.h"

namespace kvik {

// Largest head size attention supports (its scratch rows live on the stack).
inline constexpr int64_t kMaxHeadDim = 512;

// Grouped-query attention (Ainslie et al. 2023) for the n_q_heads query heads that share `kv`: for
// each head h, out_h = softmax(q_h·Kᵀ / sqrt(head_dim)) · V over positions [first, end), where
// q_h = q + h·head_dim and out_h = out + h·head_dim. Each K and V row is read once for all the
// heads. One pass over K and V (online softmax, Milakov & Gimelshein 2018, as in FlashAttention):
// keys are scored a tile at a time, the running maximum rescales the accumulators, and no score row
// of the context's length is ever stored. Arithmetic is f32 on dequantised rows.
//
// Reproducibility: a head's bits depend only on its q, the rows in [first, end) and head_dim —
// not on the block size, the thread, or how many heads share the call.
void AttendGroup(const KvHeadView& kv, int64_t first, int64_t end, const float* q,
                 int64_t n_q_heads, float* out);

// AttendGroup for several query rows of one sequence (a prefill chunk): row r attends
// [first[r], end[r]) with q + r·q_stride into out + r·out_stride. The same bits per row as
// AttendGroup; keys and values stored as f16, bf16, q8_0 or q4_0 are converted to f32 once for all
// the rows (into per-thread scratch, up to 16 MiB) instead of once per row, which made prefill
// attention O(n²) in conversions.
void AttendGroupRows(const KvHeadView& kv, std::span<const int64_t> first,
                     std::span<const int64_t> end, const float* q, int64_t q_stride,
                     int64_t n_q_heads, float* out, int64_t out_stride);

// AttendGroup for several KV heads of one sequence and layer (a model's, or a thread's share of
// them): kv[i] serves query heads i·n_q_heads … (i+1)·n_q_heads − 1 of q and out. The same bits
// per head as separate AttendGroup calls. The KV heads' rows are read a tile of each in turn, which
// helps when they are cache-resident; from DRAM, with the pool's run-major layout, one KV head per
// call streams faster (bench/attention_bench), so the model calls AttendGroup.
void AttendGroups(std::span<const KvHeadView> kv, int64_t first, int64_t end, const float* q,
                  int64_t n_q_heads, float* out);

// One query head: AttendGroup with n_q_heads = 1 (the same bits as that head in any group).
void AttendHead(const KvHeadView& kv, int64_t first, int64_t end, const float* q, float* out);

// The two-pass reference (scores for every position, softmax, weighted sum) the tests hold the
// streaming kernel to.
void AttendHeadReference(const KvHeadView& kv, int64_t first, int64_t end, const float* q,
                         float* out);

}  // namespace kvik
