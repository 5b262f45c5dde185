// A llama-family transformer loaded from GGUF: config, weights (views into the mmap) and the forward
// pass for a batch of consecutive tokens of one sequence.
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

  KvShape kv_shape(DType dtype) const { return {n_layers, n_kv_heads, head_dim, dtype}; }

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

// Activations for up to `max_tokens` tokens per forward call and attention over `max_context`
// positions. Allocated once; a decode step allocates nothing.
class ForwardState {
 public:
  ForwardState(const ModelConfig& config, int64_t max_tokens, int64_t max_context);
  int64_t max_tokens() const { return max_tokens_; }
  int64_t max_context() const { return max_context_; }

 private:
  friend class Model;
  int64_t max_tokens_, max_context_;
  std::vector<float> x, normed, q, k, v, attention, projected, gate, up;  // (max_tokens, ·)
  std::vector<float> scores;    // (n_heads, max_context)
  std::vector<float> head_row;  // (n_heads, head_dim): dequantised V rows
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const gguf::File& file() const { return file_; }
  uint64_t n_parameters() const;

  // Runs `tokens` at positions cache.n_tokens() … and appends their K/V to `cache`. Writes the
  // logits of the last token to `logits` (vocab floats), or of every token ((n, vocab) row-major)
  // when `all_logits`. Longer inputs than state.max_tokens() are processed in chunks.
  Status Forward(std::span<const int32_t> tokens, DenseKvCache& cache, ForwardState& state,
                 float* logits, bool all_logits, ThreadPool* pool) const;

 private:
  enum class LogitRows { kNone, kLast, kAll };
  Model(gguf::File file, ModelConfig config, ModelWeights weights);
  void ForwardChunk(std::span<const int32_t> tokens, DenseKvCache& cache, ForwardState& state,
                    float* logits, LogitRows rows, ThreadPool* pool) const;
  void Attention(int64_t layer, int64_t n_tokens, int64_t start_position, const DenseKvCache& cache,
                 ForwardState& state, ThreadPool* pool) const;

  gguf::File file_;
  ModelConfig config_;
  ModelWeights weights_;
};

}  // namespace kvik
