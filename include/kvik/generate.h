// Single-sequence text generation: prefill the prompt into the paged KV cache, then decode one token
// at a time — or, with use_cache = false, recompute the whole sequence for every new token (the
// O(n²)-per-token baseline the cache exists to beat; kept to be compared against).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kvik/dtype.h"
#include "kvik/kv_cache.h"
#include "kvik/model.h"
#include "kvik/sampler.h"
#include "kvik/status.h"

namespace kvik {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  SamplerOptions sampling;
  bool use_cache = true;
  DType kv_key_dtype = DType::kF32;
  DType kv_value_dtype = DType::kF32;
  int64_t block_size = 16;      // tokens per KV block
  int64_t context_tokens = 0;   // 0: the model's context length
  int64_t prefill_chunk = 512;  // tokens per forward call during prefill
  int64_t sliding_window = -1;  // -1: the model's (GGUF attention.sliding_window); 0: off
  // Context full: by default generation stops (finish "length"). With context_shift it keeps the
  // first `keep_tokens`, drops half of the rest, and goes on (llama.cpp's --context-shift).
  bool context_shift = false;
  int64_t keep_tokens = 0;
  std::string kv_load_path;     // restore a saved prompt cache (its matching prefix is reused)
  std::string kv_save_path;     // save the sequence's cache at the end
  bool stop_at_eos = true;
  int32_t eos_id = -1;
};

enum class FinishReason { kStop, kLength };
const char* FinishReasonName(FinishReason reason);

struct GenerateResult {
  std::vector<int32_t> tokens;   // generated tokens (prompt excluded)
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  int64_t prompt_tokens_computed = 0;  // the rest came from a loaded prompt cache
  double prefill_ms = 0;         // the prompt's forward pass (first token's logits)
  double decode_ms = 0;          // all later forward passes
  int64_t decode_steps = 0;      // forward passes timed in decode_ms
  int64_t context_shifts = 0;
  uint64_t kv_bytes_allocated = 0;
  uint64_t kv_bytes_used = 0;    // at the end: bytes of the tokens held
  uint64_t kv_bytes_peak = 0;    // most bytes of blocks in use at once
  KvCacheStats kv_stats;         // at the end, before the sequence is released
};

// Called with each new token as soon as it is sampled; return false to stop early.
using TokenCallback = std::function<bool(int32_t token)>;

// `pool` may be null (single-threaded). The callback may be empty.
Result<GenerateResult> Generate(const Model& model, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options, ThreadPool* pool,
                                const TokenCallback& on_token = {});

// Identifies a model file's bytes (XXH3-64 of the whole file); saved prompt caches carry it.
uint64_t ModelFingerprint(const Model& model);

}  // namespace kvik
