#include "kvik/generate.h"

#include <algorithm>
#include <chrono>
#include <string>

#include <xxhash.h>

#include "kvik/tensor.h"

namespace kvik {
namespace {

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

struct RopeParams {
  int64_t rope_dim;
  float freq_base;
};

// Context shift moves keys to earlier positions: rotating by −n_discard undoes that much of RoPE.
void RotateKeys(float* keys, int64_t n_heads, int64_t head_dim, int64_t delta, const void* context) {
  const auto* rope = static_cast<const RopeParams*>(context);
  RopeInPlace(keys, n_heads, head_dim, rope->rope_dim, delta, rope->freq_base);
}

int64_t LongestCommonPrefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const auto limit = std::min(a.size(), b.size());
  size_t n = 0;
  while (n < limit && a[n] == b[n]) ++n;
  return static_cast<int64_t>(n);
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

uint64_t ModelFingerprint(const Model& model) {
  const std::span<const uint8_t> bytes = model.file().bytes();
  return XXH3_64bits(bytes.data(), bytes.size());
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
  if (options.block_size <= 0) return InvalidArgument("block size must be positive");
  if (options.context_shift && (options.keep_tokens < 0 || options.keep_tokens >= context - 1)) {
    return InvalidArgument("--keep must be between 0 and the context minus 2");
  }
  const int64_t window = options.sliding_window >= 0 ? options.sliding_window : config.sliding_window;

  // The cache holds exactly the tokens this generation can reach (the last sampled token is never
  // fed back): S = min(prompt + n − 1, context), rounded up to whole blocks. A sliding window
  // bounds it further: the window, one prefill chunk being written, and a block of slack on each
  // side of the window's edge.
  const int64_t reach = std::max<int64_t>(
      n_prompt, options.context_shift ? context
                                      : std::min(context, n_prompt + options.max_new_tokens - 1));
  const int64_t chunk = std::max<int64_t>(1, std::min(options.prefill_chunk, reach));
  int64_t n_blocks = KvCacheOptions::BlocksFor(reach, 1, options.block_size);
  if (window > 0) {
    n_blocks = std::min(n_blocks, (window + chunk) / options.block_size + 2);
  }
  KvCacheOptions kv_options;
  kv_options.shape = config.kv_shape(options.kv_key_dtype, options.kv_value_dtype);
  kv_options.block_size = options.block_size;
  kv_options.n_blocks = n_blocks;
  kv_options.sliding_window = window;
  // Recomputing must really recompute: no block may be reused from the previous step.
  kv_options.prefix_sharing = options.use_cache;
  KVIK_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, KvCache::Create(kv_options));
  ForwardState state(config, chunk);
  std::vector<float> logits(config.vocab_size);
  Sampler sampler(options.sampling);
  const RopeParams rope{config.rope_dim, config.rope_freq_base};

  GenerateResult result;
  result.prompt_tokens = n_prompt;
  result.kv_bytes_allocated = cache->bytes_allocated();
  std::vector<int32_t> sequence = prompt;  // prompt + generated: what --no-cache recomputes

  SequenceId seq = cache->AddSequence();
  if (!options.kv_load_path.empty()) {
    cache->RemoveSequence(seq);
    KVIK_ASSIGN_OR_RETURN(seq, cache->Load(options.kv_load_path, ModelFingerprint(model)));
    // Reuse the saved tokens that agree with this prompt, and always compute at least the last
    // prompt token: its logits are what the first sample needs.
    const int64_t common = LongestCommonPrefix(cache->tokens(seq), prompt);
    cache->Truncate(seq, std::min(common, n_prompt - 1));
  }
  const int64_t reused = cache->n_tokens(seq);
  result.prompt_tokens_computed = n_prompt - reused;

  auto update_peak = [&] {
    result.kv_bytes_peak = std::max(result.kv_bytes_peak, cache->stats().bytes_used);
  };
  auto start = std::chrono::steady_clock::now();
  KVIK_RETURN_IF_ERROR(model.Forward(std::span<const int32_t>(prompt).subspan(reused), seq, *cache,
                                     state, logits.data(), false, pool));
  result.prefill_ms = MillisecondsSince(start);
  update_peak();

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
    if (cache->n_tokens(seq) + 1 > reach) {
      if (!options.context_shift || !options.use_cache) break;  // context full: finish "length"
      const int64_t n_discard = (cache->n_tokens(seq) - options.keep_tokens) / 2;
      KVIK_RETURN_IF_ERROR(cache->Shift(seq, options.keep_tokens, n_discard, RotateKeys, &rope));
      ++result.context_shifts;
    }
    start = std::chrono::steady_clock::now();
    if (options.use_cache) {
      KVIK_RETURN_IF_ERROR(
          model.Forward({&token, 1}, seq, *cache, state, logits.data(), false, pool));
    } else {
      cache->RemoveSequence(seq);
      seq = cache->AddSequence();
      KVIK_RETURN_IF_ERROR(model.Forward(sequence, seq, *cache, state, logits.data(), false, pool));
    }
    result.decode_ms += MillisecondsSince(start);
    ++result.decode_steps;
    update_peak();
  }
  result.kv_stats = cache->stats();
  result.kv_bytes_used = result.kv_stats.bytes_holding_tokens;
  if (!options.kv_save_path.empty()) {
    KVIK_RETURN_IF_ERROR(cache->Save(seq, options.kv_save_path, ModelFingerprint(model)));
  }
  return result;
}

}  // namespace kvik
