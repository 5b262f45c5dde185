// The llama forward pass (Touvron et al. 2023): pre-norm blocks of RoPE attention with grouped-query
// KV heads and a SwiGLU feed-forward, over a batch of token rows from one or more sequences.
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "kvik/attention.h"
#include "kvik/model.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

void AddBias(float* row, const float* bias, int64_t width) {
  if (!bias) return;
  for (int64_t i = 0; i < width; ++i) row[i] += bias[i];
}

void AddInPlace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

// Calls row_fn(t) for every row t < n: over the pool for a prefill chunk, so the other threads do
// not wait while one normalises, rotates and stores the prompt rows between products (7% of the
// worker's time in stories15M's pp128 profile); inline for a few rows, where a hand-off costs more
// than it saves. Rows are independent, so the split changes no result.
template <typename RowFn>
void ForRows(int64_t n, ThreadPool* pool, const RowFn& row_fn) {
  constexpr int64_t kMinRowsToSplit = 32;
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) row_fn(t);
  };
  if (pool && n >= kMinRowsToSplit) {
    pool->ParallelFor(n, rows);
  } else {
    rows(0, n);
  }
}

int64_t LogitRowCount(const ForwardItem& item) {
  switch (item.logits) {
    case LogitRows::kNone: return 0;
    case LogitRows::kLast: return 1;
    case LogitRows::kAll: return static_cast<int64_t>(item.tokens.size());
  }
  return 0;
}

}  // namespace

Status Model::Forward(std::span<const int32_t> tokens, SequenceId seq, KvCache& cache,
                      ForwardState& state, float* logits, bool all_logits,
                      ThreadPool* pool) const {
  const ForwardItem item{seq, tokens, all_logits ? LogitRows::kAll : LogitRows::kLast};
  return Forward({&item, 1}, cache, state, logits, pool);
}

Status Model::Validate(std::span<const ForwardItem> batch, const KvCache& cache) const {
  if (batch.empty()) return InvalidArgument("forward: empty batch");
  if (cache.shape().n_layers != config_.n_layers || cache.shape().n_kv_heads != config_.n_kv_heads ||
      cache.shape().head_dim != config_.head_dim) {
    return InvalidArgument("forward: the KV cache was made for another model shape");
  }
  std::unordered_set<SequenceId> seen;
  for (const ForwardItem& item : batch) {
    if (!cache.Contains(item.seq)) return InvalidArgument("forward: unknown sequence");
    if (!seen.insert(item.seq).second) {
      return InvalidArgument("forward: a sequence appears twice in one batch");
    }
    if (item.tokens.empty()) return InvalidArgument("forward: no tokens");
    for (int32_t t : item.tokens) {
      if (t < 0 || t >= config_.vocab_size) {
        return OutOfRange("token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                          std::to_string(config_.vocab_size) + ")");
      }
    }
  }
  return Status::Ok();
}

Status Model::Forward(std::span<const ForwardItem> batch, KvCache& cache, ForwardState& state,
                      float* logits, ThreadPool* pool) const {
  KVIK_RETURN_IF_ERROR(Validate(batch, cache));
  int64_t blocks_needed = 0;
  for (const ForwardItem& item : batch) {
    blocks_needed += cache.blocks_needed(item.seq, static_cast<int64_t>(item.tokens.size()));
  }
  if (blocks_needed > cache.blocks_available()) {
    return ResourceExhausted("context full: the KV cache needs " + std::to_string(blocks_needed) +
                             " more blocks of " + std::to_string(cache.block_size()) +
                             " tokens, " + std::to_string(cache.blocks_available()) + " are free");
  }
  for (const ForwardItem& item : batch) {
    KVIK_RETURN_IF_ERROR(cache.Reserve(item.seq, static_cast<int64_t>(item.tokens.size())));
  }
  // Split into chunks of at most max_tokens rows; an item cut in two wants logits only from the
  // piece holding its last token (unless it wants them all).
  std::vector<ForwardItem> chunk;
  int64_t rows = 0;
  float* out = logits;
  auto flush = [&] {
    ForwardChunk(chunk, cache, state, out, pool);
    for (const ForwardItem& piece : chunk) out += LogitRowCount(piece) * config_.vocab_size;
    chunk.clear();
    rows = 0;
  };
  for (const ForwardItem& item : batch) {
    std::span<const int32_t> rest = item.tokens;
    while (!rest.empty()) {
      const int64_t take = std::min<int64_t>(state.max_tokens() - rows, rest.size());
      ForwardItem piece{item.seq, rest.first(take), item.logits};
      if (take < static_cast<int64_t>(rest.size()) && item.logits == LogitRows::kLast) {
        piece.logits = LogitRows::kNone;
      }
      chunk.push_back(piece);
      rows += take;
      rest = rest.subspan(take);
      if (rows == state.max_tokens()) flush();
    }
  }
  if (!chunk.empty()) flush();
  return Status::Ok();
}

void Model::ForwardChunk(std::span<const ForwardItem> chunk, KvCache& cache, ForwardState& s,
                         float* logits, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  int64_t n = 0;
  for (const ForwardItem& item : chunk) {
    const int64_t start = cache.n_tokens(item.seq);
    for (size_t i = 0; i < item.tokens.size(); ++i, ++n) {
      s.row_sequence[n] = item.seq;
      s.row_position[n] = start + static_cast<int64_t>(i);
      RowToFloats(weights_.token_embedding, item.tokens[i], s.x.data() + n * c.dim);
    }
  }
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& w = weights_.layers[layer];
    ForRows(n, pool, [&](int64_t t) {
      RmsNorm(s.normed.data() + t * c.dim, s.x.data() + t * c.dim, w.attn_norm, c.dim, c.rms_eps);
    });
    const MatMulTarget qkv[] = {{w.wq, s.q.data()}, {w.wk, s.k.data()}, {w.wv, s.v.data()}};
    MatMulShared(qkv, s.normed.data(), n, pool);
    ForRows(n, pool, [&](int64_t t) {
      AddBias(s.q.data() + t * q_dim, w.bq, q_dim);
      AddBias(s.k.data() + t * kv_dim, w.bk, kv_dim);
      AddBias(s.v.data() + t * kv_dim, w.bv, kv_dim);
      RopeInPlace(s.q.data() + t * q_dim, c.n_heads, c.head_dim, c.rope_dim, s.row_position[t],
                  c.rope_freq_base);
      RopeInPlace(s.k.data() + t * kv_dim, c.n_kv_heads, c.head_dim, c.rope_dim, s.row_position[t],
                  c.rope_freq_base);
      // Rows of distinct positions: the cache writes disjoint bytes for each.
      cache.Store(s.row_sequence[t], layer, s.row_position[t], s.k.data() + t * kv_dim,
                  s.v.data() + t * kv_dim);
    });
    Attention(layer, n, cache, s, pool);
    MatMul(w.wo, s.attention.data(), n, s.projected.data(), pool);
    ForRows(n, pool, [&](int64_t t) {
      AddInPlace(s.x.data() + t * c.dim, s.projected.data() + t * c.dim, c.dim);
      RmsNorm(s.normed.data() + t * c.dim, s.x.data() + t * c.dim, w.ffn_norm, c.dim, c.rms_eps);
    });
    const MatMulTarget gate_up[] = {{w.w_gate, s.gate.data()}, {w.w_up, s.up.data()}};
    MatMulShared(gate_up, s.normed.data(), n, pool);
    ForRows(n, pool, [&](int64_t t) {
      SwiGluInPlace(s.gate.data() + t * c.ffn_dim, s.up.data() + t * c.ffn_dim, c.ffn_dim);
    });
    MatMul(w.w_down, s.gate.data(), n, s.projected.data(), pool);
    ForRows(n, pool, [&](int64_t t) {
      AddInPlace(s.x.data() + t * c.dim, s.projected.data() + t * c.dim, c.dim);
    });
  }
  for (const ForwardItem& item : chunk) cache.Commit(item.seq, item.tokens);

  // Only the rows whose logits are wanted go through the final norm and the (large) output
  // matrix; they are gathered to the front of `normed` in item order.
  int64_t wanted = 0, row = 0;
  for (const ForwardItem& item : chunk) {
    const int64_t count = static_cast<int64_t>(item.tokens.size());
    const int64_t first = item.logits == LogitRows::kAll    ? 0
                          : item.logits == LogitRows::kLast ? count - 1
                                                            : count;
    for (int64_t t = row + first; t < row + count; ++t, ++wanted) {
      RmsNorm(s.normed.data() + wanted * c.dim, s.x.data() + t * c.dim, weights_.output_norm, c.dim,
              c.rms_eps);
    }
    row += count;
  }
  if (wanted > 0) MatMul(weights_.output, s.normed.data(), wanted, logits, pool);
}

// Each query head h reads KV head h / (n_heads / n_kv_heads) (grouped-query attention, Ainslie et
// al. 2023); the heads of one KV head are contiguous in q. The work is split over (row, KV head)
// pairs, one AttendGroup call each: every cached K/V row is read once for its whole group, and one
// head's rows are contiguous across consecutive blocks (kv/block_pool.h), so each call streams two
// sequential runs. (Reading several KV heads per call, a tile of each in turn, measured half as
// fast from DRAM: bench/attention_bench kGroupsOfTwo vs kGroup.) A row at position p sees
// positions [first_visible(p), p]: the causal mask, narrowed by the sliding window when there is
// one.
void Model::Attention(int64_t layer, int64_t n_rows, const KvCache& cache, ForwardState& s,
                      ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t group = c.n_heads / c.n_kv_heads;
  // Work items are (block of up to kRowsPerItem rows, KV head). The rows of one sequence in a block
  // (a prefill chunk) go to AttendGroupRows together, so each cached row not stored as f32 is
  // converted once per block instead of once per row. Blocks are visited from both ends in turn, so
  // the two halves the pool hands its threads get equal shares of a causal prefill's work (late
  // rows attend to more positions).
  constexpr int64_t kRowsPerItem = 32;
  const int64_t n_blocks = (n_rows + kRowsPerItem - 1) / kRowsPerItem;
  auto job = [&](int64_t begin, int64_t end) {
    int64_t first[kRowsPerItem], stop[kRowsPerItem];
    for (int64_t i = begin; i < end; ++i) {
      const int64_t turn = i / c.n_kv_heads, kv_head = i % c.n_kv_heads;
      const int64_t block = turn % 2 == 0 ? turn / 2 : n_blocks - 1 - turn / 2;
      const int64_t block_end = std::min(n_rows, (block + 1) * kRowsPerItem);
      for (int64_t t = block * kRowsPerItem; t < block_end;) {
        const SequenceId seq = s.row_sequence[t];
        const KvHeadView view = cache.HeadView(seq, layer, kv_head);
        int64_t u = t;
        for (; u < block_end && s.row_sequence[u] == seq; ++u) {
          first[u - t] = view.first_visible(s.row_position[u]);
          stop[u - t] = s.row_position[u] + 1;
        }
        const int64_t offset = t * q_dim + kv_head * group * c.head_dim;
        AttendGroupRows(view, {first, static_cast<size_t>(u - t)},
                        {stop, static_cast<size_t>(u - t)}, s.q.data() + offset, q_dim, group,
                        s.attention.data() + offset, q_dim);
        t = u;
      }
    }
  };
  // Attention reads (context · head_dim) values per row and head; short contexts stay on one thread.
  int64_t work = 0;
  for (int64_t t = 0; t < n_rows; ++t) work += (s.row_position[t] + 1) * c.head_dim * c.n_heads;
  if (pool && work >= (1 << 15)) {
    pool->ParallelFor(n_blocks * c.n_kv_heads, job);
  } else {
    job(0, n_blocks * c.n_kv_heads);
  }
}

}  // namespace kvik
