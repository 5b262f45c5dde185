#include "kvik/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kvik/kv_cache.h"

namespace kvik {

double NegativeLogLikelihood(const float* logits, int64_t vocab_size, int32_t target) {
  double max = logits[0];
  for (int64_t i = 1; i < vocab_size; ++i) max = std::max<double>(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab_size; ++i) sum += std::exp(logits[i] - max);
  return std::log(sum) + max - logits[target];
}

Result<PerplexityResult> Perplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options, ThreadPool* pool,
                                    const PerplexityProgress& progress) {
  const ModelConfig& config = model.config();
  const int64_t context = options.context;
  // The second half of a chunk is scored: at least one token needs context >= 3.
  if (context < 3 || context > config.context_length) {
    return InvalidArgument("perplexity context " + std::to_string(context) +
                           " must be between 3 and the model's context length " +
                           std::to_string(config.context_length));
  }
  if (options.batch_tokens < 1) return InvalidArgument("perplexity batch must be positive");
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / context;
  if (n_chunks == 0) {
    return InvalidArgument("the text has " + std::to_string(tokens.size()) +
                           " tokens, fewer than one chunk of " + std::to_string(context) +
                           " (use a longer text or a smaller context)");
  }
  if (options.max_chunks > 0) n_chunks = std::min(n_chunks, options.max_chunks);

  KvCacheOptions kv_options;
  kv_options.shape = config.kv_shape(options.kv_dtype, options.kv_dtype);
  kv_options.block_size = 16;
  kv_options.n_blocks = KvCacheOptions::BlocksFor(context, 1, kv_options.block_size);
  kv_options.sliding_window = config.sliding_window;
  kv_options.prefix_sharing = false;  // each chunk is evaluated from scratch
  KVIK_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, KvCache::Create(kv_options));
  const int64_t batch = std::min(options.batch_tokens, context);
  ForwardState state(config, batch);
  std::vector<float> logits(batch * config.vocab_size);
  std::vector<int32_t> chunk(context);

  // Position p's logits predict token p + 1; positions [first, context − 1) are scored.
  const int64_t first = context / 2;
  PerplexityResult result;
  double nll_sum = 0, nll_squares = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + c * context, context, chunk.begin());
    if (options.bos_id >= 0) chunk[0] = options.bos_id;
    const SequenceId seq = cache->AddSequence();
    for (int64_t start = 0; start < context; start += batch) {
      const int64_t n = std::min(batch, context - start);
      const Status status = model.Forward(std::span<const int32_t>(chunk).subspan(start, n), seq,
                                          *cache, state, logits.data(), true, pool);
      if (!status.ok()) {
        cache->RemoveSequence(seq);
        return status;
      }
      for (int64_t p = std::max(start, first); p < std::min(start + n, context - 1); ++p) {
        const double nll = NegativeLogLikelihood(logits.data() + (p - start) * config.vocab_size,
                                                 config.vocab_size, chunk[p + 1]);
        nll_sum += nll;
        nll_squares += nll * nll;
        ++result.scored_tokens;
      }
    }
    cache->RemoveSequence(seq);
    result.chunks = c + 1;
    result.mean_nll = nll_sum / result.scored_tokens;
    result.perplexity = std::exp(result.mean_nll);
    const double n = static_cast<double>(result.scored_tokens);
    const double variance = std::max(0.0, nll_squares / n - result.mean_nll * result.mean_nll);
    result.perplexity_error = n > 1 ? result.perplexity * std::sqrt(variance / (n - 1)) : 0;
    result.running_perplexity.push_back(result.perplexity);
    if (progress) progress(result);
  }
  return result;
}

}  // namespace kvik
