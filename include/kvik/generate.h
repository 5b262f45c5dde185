// Single-sequence text generation: prefill the prompt into a dense KV cache, then decode one token
// at a time — or, with use_cache = false, recompute the whole sequence for every new token (the
// O(n²)-per-token baseline the cache exists to beat; kept to be compared against).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kvik/dtype.h"
#include "kvik/model.h"
#include "kvik/sampler.h"
#include "kvik/status.h"

namespace kvik {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  SamplerOptions sampling;
  bool use_cache = true;
  DType kv_dtype = DType::kF32;
  int64_t context_tokens = 0;   // 0: the model's context length
  int64_t prefill_chunk = 512;  // tokens per forward call during prefill
  bool stop_at_eos = true;
  int32_t eos_id = -1;
};

enum class FinishReason { kStop, kLength };
const char* FinishReasonName(FinishReason reason);

struct GenerateResult {
  std::vector<int32_t> tokens;   // generated tokens (prompt excluded)
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  double prefill_ms = 0;         // the prompt's forward pass (first token's logits)
  double decode_ms = 0;          // all later forward passes
  int64_t decode_steps = 0;      // forward passes timed in decode_ms
  uint64_t kv_bytes_allocated = 0;
  uint64_t kv_bytes_used = 0;    // at the end
};

// Called with each new token as soon as it is sampled; return false to stop early.
using TokenCallback = std::function<bool(int32_t token)>;

// `pool` may be null (single-threaded). The callback may be empty.
Result<GenerateResult> Generate(const Model& model, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options, ThreadPool* pool,
                                const TokenCallback& on_token = {});

}  // namespace kvik
