// A llama-family transformer loaded from GGUF: config, weights (the matrices it multiplies by copied
// onto huge pages, Q4_0/Q8_0 re-laid out on the way; norms and an untied embedding read in place
// from the mmap) and the forward pass for a batch of sequences.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kvik/gguf.h"
#include "kvik/kv_cache.h"
#include "kvik/status.h"
#include "kvik/tensor.h"

namespace kvik {

class ThreadPool;

struct ModelConfig {
  std::string architecture;   // general.architecture: "llama" or "mistral"
  std::string name;           // general.name, may be empty
  int64_t dim = 0;            // embedding_length
  int64_t n_layers = 0;       // block_count
  int64_t n_heads = 0;        // attention.head_count
  int64_t n_kv_heads = 0;     // attention.head_count_kv (GQA when < n_heads)
  int64_t head_dim = 0;       // dim / n_heads
  int64_t ffn_dim = 0;        // feed_forward_length
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  int64_t rope_dim = 0;       // rope.dimension_count (defaults to head_dim)
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;   // no output.weight: logits use token_embd
  int64_t sliding_window = 0; // attention.sliding_window: attend to the last W positions; 0 = all

  KvShape kv_shape(DType dtype) const { return {n_layers, n_kv_heads, head_dim, dtype, dtype}; }
  KvShape kv_shape(DType key_dtype, DType value_dtype) const {
    return {n_layers, n_kv_heads, head_dim, key_dtype, value_dtype};
  }

  static Result<ModelConfig> FromGguf(const gguf::File& file);
};

// Weights of one transformer block. Matrices are (out, in) row-major as GGUF stores [in, out].
struct LayerWeights {
  const float* attn_norm = nullptr;  // (dim)
  MatrixView wq;                     // (n_heads · head_dim, dim)
  MatrixView wk;                     // (n_kv_heads · head_dim, dim)
  MatrixView wv;                     // (n_kv_heads · head_dim, dim)
  MatrixView wo;                     // (dim, n_heads · head_dim)
  const float* bq = nullptr;         // (n_heads · head_dim) or null (Qwen2-style QKV bias)
  const float* bk = nullptr;         // (n_kv_heads · head_dim) or null
  const float* bv = nullptr;         // (n_kv_heads · head_dim) or null
  const float* ffn_norm = nullptr;   // (dim)
  MatrixView w_gate;                 // (ffn_dim, dim)
  MatrixView w_up;                   // (ffn_dim, dim)
  MatrixView w_down;                 // (dim, ffn_dim)
};

struct ModelWeights {
  MatrixView token_embedding;        // (vocab, dim): row t is token t's embedding
  std::vector<LayerWeights> layers;
  const float* output_norm = nullptr;  // (dim)
  MatrixView output;                 // (vocab, dim); the embedding itself when tied
};

// Activations for up to `max_tokens` token rows per forward step (the rows of every sequence in the
// batch together). Allocated once; a decode step allocates nothing.
class ForwardState {
 public:
  ForwardState(const ModelConfig& config, int64_t max_tokens);
  int64_t max_tokens() const { return max_tokens_; }

 private:
  friend class Model;
  int64_t max_tokens_;
  AlignedFloats x, normed, q, k, v, attention, projected, gate, up;  // (max_tokens, ·)
  std::vector<SequenceId> row_sequence;  // (max_tokens): the sequence of each row
  std::vector<int64_t> row_position;     // (max_tokens): its position in that sequence
};

// Which logits a batch item wants: none (a prompt chunk before the last), its last token's (the
// next-token distribution), or every token's (perplexity, speculative verification).
enum class LogitRows { kNone, kLast, kAll };

// A run of consecutive new tokens of one sequence, placed at positions cache.n_tokens(seq) ….
struct ForwardItem {
  SequenceId seq = 0;
  std::span<const int32_t> tokens;
  LogitRows logits = LogitRows::kLast;
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const gguf::File& file() const { return file_; }
  uint64_t n_parameters() const;

  // One step over a batch of sequences (continuous batching): every item's tokens go through the
  // layers together, so each weight matrix is read once per step, not once per sequence. Their K/V
  // are stored in `cache` and committed. Logit rows are written back to back in item order (kAll: one
  // per token, kLast: one, kNone: none), vocab floats each. Batches longer than state.max_tokens()
  // run in chunks. Items must name distinct sequences. ResourceExhausted when the cache can't hold
  // the new tokens (nothing is computed then).
  Status Forward(std::span<const ForwardItem> batch, KvCache& cache, ForwardState& state,
                 float* logits, ThreadPool* pool) const;
  // The same for one sequence.
  Status Forward(std::span<const int32_t> tokens, SequenceId seq, KvCache& cache,
                 ForwardState& state, float* logits, bool all_logits, ThreadPool* pool) const;

 private:
  Model(gguf::File file, ModelConfig config, ModelWeights weights,
        std::unique_ptr<uint8_t, void (*)(void*)> matrices);
  Status Validate(std::span<const ForwardItem> batch, const KvCache& cache) const;
  void ForwardChunk(std::span<const ForwardItem> chunk, KvCache& cache, ForwardState& state,
                    float* logits, ThreadPool* pool) const;
  void Attention(int64_t layer, int64_t n_rows, const KvCache& cache, ForwardState& state,
                 ThreadPool* pool) const;

  gguf::File file_;
  ModelConfig config_;
  ModelWeights weights_;
  // The weight matrices, copied out of the mapping onto huge pages (Q4_0 and Q8_0 interleaved); the
  // views point into it.
  std::unique_ptr<uint8_t, void (*)(void*)> matrices_;
};

}  // namespace kvik
