// The llama forward pass (Touvron et al. 2023): pre-norm blocks of RoPE attention with grouped-query
// KV heads and a SwiGLU feed-forward, over a chunk of consecutive tokens of one sequence.
#include <algorithm>
#include <string>

#include "kvik/attention.h"
#include "kvik/model.h"
#include "kvik/quantize.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

void AddBias(float* rows, const float* bias, int64_t n_rows, int64_t width) {
  if (!bias) return;
  for (int64_t t = 0; t < n_rows; ++t)
    for (int64_t i = 0; i < width; ++i) rows[t * width + i] += bias[i];
}

void AddInPlace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

Status Model::Forward(std::span<const int32_t> tokens, DenseKvCache& cache, ForwardState& state,
                      float* logits, bool all_logits, ThreadPool* pool) const {
  const int64_t start = cache.n_tokens();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return InvalidArgument("forward: no tokens");
  if (start + n > cache.capacity_tokens()) {
    return ResourceExhausted("context full: " + std::to_string(start + n) + " tokens needed, the cache holds " +
                             std::to_string(cache.capacity_tokens()));
  }
  if (start + n > state.max_context()) {
    return ResourceExhausted("context full: " + std::to_string(start + n) +
                             " tokens exceed the attention scratch of " +
                             std::to_string(state.max_context()));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= config_.vocab_size) {
      return OutOfRange("token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                        std::to_string(config_.vocab_size) + ")");
    }
  }
  for (int64_t done = 0; done < n; done += state.max_tokens()) {
    const int64_t chunk = std::min(state.max_tokens(), n - done);
    const LogitRows rows = all_logits             ? LogitRows::kAll
                           : done + chunk == n ? LogitRows::kLast
                                               : LogitRows::kNone;
    float* chunk_logits = all_logits ? logits + done * config_.vocab_size : logits;
    ForwardChunk(tokens.subspan(done, chunk), cache, state, chunk_logits, rows, pool);
  }
  return Status::Ok();
}

void Model::ForwardChunk(std::span<const int32_t> tokens, DenseKvCache& cache, ForwardState& s,
                         float* logits, LogitRows rows, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t start = cache.n_tokens();
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;

  for (int64_t t = 0; t < n; ++t) {
    DequantizeRow(weights_.token_embedding.type, weights_.token_embedding.row(tokens[t]), c.dim,
                  s.x.data() + t * c.dim);
  }
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& w = weights_.layers[layer];
    for (int64_t t = 0; t < n; ++t) {
      RmsNorm(s.normed.data() + t * c.dim, s.x.data() + t * c.dim, w.attn_norm, c.dim, c.rms_eps);
    }
    MatMul(w.wq, s.normed.data(), n, s.q.data(), pool);
    MatMul(w.wk, s.normed.data(), n, s.k.data(), pool);
    MatMul(w.wv, s.normed.data(), n, s.v.data(), pool);
    AddBias(s.q.data(), w.bq, n, q_dim);
    AddBias(s.k.data(), w.bk, n, kv_dim);
    AddBias(s.v.data(), w.bv, n, kv_dim);
    for (int64_t t = 0; t < n; ++t) {
      RopeInPlace(s.q.data() + t * q_dim, c.n_heads, c.head_dim, c.rope_dim, start + t,
                  c.rope_freq_base);
      RopeInPlace(s.k.data() + t * kv_dim, c.n_kv_heads, c.head_dim, c.rope_dim, start + t,
                  c.rope_freq_base);
      cache.Store(layer, start + t, s.k.data() + t * kv_dim, s.v.data() + t * kv_dim);
    }
    Attention(layer, n, start, cache, s, pool);
    MatMul(w.wo, s.attention.data(), n, s.projected.data(), pool);
    AddInPlace(s.x.data(), s.projected.data(), n * c.dim);

    for (int64_t t = 0; t < n; ++t) {
      RmsNorm(s.normed.data() + t * c.dim, s.x.data() + t * c.dim, w.ffn_norm, c.dim, c.rms_eps);
    }
    MatMul(w.w_gate, s.normed.data(), n, s.gate.data(), pool);
    MatMul(w.w_up, s.normed.data(), n, s.up.data(), pool);
    SwiGluInPlace(s.gate.data(), s.up.data(), n * c.ffn_dim);
    MatMul(w.w_down, s.gate.data(), n, s.projected.data(), pool);
    AddInPlace(s.x.data(), s.projected.data(), n * c.dim);
  }
  cache.set_n_tokens(start + n);

  if (rows == LogitRows::kNone) return;
  // Only the rows whose logits are wanted go through the final norm and the (large) output matrix.
  const int64_t first = rows == LogitRows::kAll ? 0 : n - 1;
  for (int64_t t = first; t < n; ++t) {
    RmsNorm(s.normed.data() + t * c.dim, s.x.data() + t * c.dim, weights_.output_norm, c.dim,
            c.rms_eps);
  }
  MatMul(weights_.output, s.normed.data() + first * c.dim, n - first, logits, pool);
}

// Each query head h reads KV head h / (n_heads / n_kv_heads) (grouped-query attention, Ainslie et
// al. 2023). Token t of the chunk sees positions [0, start + t]: the causal mask.
void Model::Attention(int64_t layer, int64_t n_tokens, int64_t start, const DenseKvCache& cache,
                      ForwardState& s, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t group = c.n_heads / c.n_kv_heads;
  auto heads_job = [&](int64_t begin, int64_t end) {
    for (int64_t h = begin; h < end; ++h) {
      HeadAttentionInput in;
      in.keys = cache.keys(layer, h / group);
      in.values = cache.values(layer, h / group);
      in.dtype = cache.shape().dtype;
      in.head_dim = c.head_dim;
      for (int64_t t = 0; t < n_tokens; ++t) {
        in.n_ctx = start + t + 1;
        AttendHead(in, s.q.data() + t * q_dim + h * c.head_dim,
                   s.attention.data() + t * q_dim + h * c.head_dim,
                   s.scores.data() + h * s.max_context(), s.head_row.data() + h * c.head_dim);
      }
    }
  };
  // Attention reads n_tokens · n_ctx · head_dim values per head; short contexts stay on one thread.
  const int64_t work = n_tokens * (start + n_tokens) * c.head_dim * c.n_heads;
  if (pool && work >= (1 << 15)) {
    pool->ParallelFor(c.n_heads, heads_job);
  } else {
    heads_job(0, c.n_heads);
  }
}

}  // namespace kvik
