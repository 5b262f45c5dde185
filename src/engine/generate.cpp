#include "kvik/generate.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace kvik {
namespace {

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

Result<GenerateResult> Generate(const Model& model, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options, ThreadPool* pool,
                                const TokenCallback& on_token) {
  const ModelConfig& config = model.config();
  const int64_t context = options.context_tokens > 0
                              ? std::min(options.context_tokens, config.context_length)
                              : config.context_length;
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt == 0) return InvalidArgument("the prompt is empty (no tokens to start from)");
  if (n_prompt > context) {
    return InvalidArgument("the prompt has " + std::to_string(n_prompt) +
                           " tokens, more than the context of " + std::to_string(context));
  }
  if (options.max_new_tokens < 0) return InvalidArgument("max_new_tokens must be >= 0");
  // The cache holds exactly the tokens this generation can reach (the last sampled token is never
  // fed back), so its size is the formula with S = min(prompt + n - 1, context).
  const int64_t capacity = std::max<int64_t>(n_prompt, std::min(context, n_prompt + options.max_new_tokens - 1));
  KVIK_ASSIGN_OR_RETURN(DenseKvCache cache,
                        DenseKvCache::Create(config.kv_shape(options.kv_dtype), capacity));
  ForwardState state(config, std::min(options.prefill_chunk, capacity), capacity);
  std::vector<float> logits(config.vocab_size);
  Sampler sampler(options.sampling);

  GenerateResult result;
  result.prompt_tokens = n_prompt;
  result.kv_bytes_allocated = cache.bytes_allocated();
  std::vector<int32_t> sequence = prompt;  // prompt + generated: what --no-cache recomputes

  auto start = std::chrono::steady_clock::now();
  KVIK_RETURN_IF_ERROR(model.Forward(prompt, cache, state, logits.data(), false, pool));
  result.prefill_ms = MillisecondsSince(start);

  result.finish_reason = FinishReason::kLength;
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const int32_t token = sampler.Sample(logits.data(), config.vocab_size);
    result.tokens.push_back(token);
    sequence.push_back(token);
    if (on_token && !on_token(token)) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
    if (options.stop_at_eos && token == options.eos_id) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
    if (step + 1 == options.max_new_tokens) break;
    if (static_cast<int64_t>(sequence.size()) > capacity) break;  // context full: finish "length"
    start = std::chrono::steady_clock::now();
    if (options.use_cache) {
      KVIK_RETURN_IF_ERROR(model.Forward({&token, 1}, cache, state, logits.data(), false, pool));
    } else {
      cache.Clear();
      KVIK_RETURN_IF_ERROR(model.Forward(sequence, cache, state, logits.data(), false, pool));
    }
    result.decode_ms += MillisecondsSince(start);
    ++result.decode_steps;
  }
  result.kv_bytes_used = cache.bytes_used();
  return result;
}

}  // namespace kvik
