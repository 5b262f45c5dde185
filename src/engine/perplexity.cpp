#include "kvik/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kvik/kv_cache.h"
#include "kvik/tensor.h"

namespace kvik {
namespace {

double LogSumExp(const float* logits, int64_t vocab_size) {
  double max = logits[0];
  for (int64_t i = 1; i < vocab_size; ++i) max = std::max<double>(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab_size; ++i) sum += std::exp(logits[i] - max);
  return std::log(sum) + max;
}

// KL(P ‖ Q) = Σ p_i (log p_i − log q_i) for the distributions softmax(p_logits), softmax(q_logits).
double KlDivergence(const float* p_logits, const float* q_logits, int64_t vocab_size) {
  const double p_norm = LogSumExp(p_logits, vocab_size), q_norm = LogSumExp(q_logits, vocab_size);
  double kl = 0;
  for (int64_t i = 0; i < vocab_size; ++i) {
    const double log_p = p_logits[i] - p_norm;
    kl += std::exp(log_p) * (log_p - (q_logits[i] - q_norm));
  }
  return std::max(0.0, kl);  // ≥ 0 in exact arithmetic; rounding can leave −1e-17
}

// Running mean and standard error of per-token values.
struct MeanAccumulator {
  double sum = 0, squares = 0;
  int64_t n = 0;
  void Add(double x) {
    sum += x;
    squares += x * x;
    ++n;
  }
  double Mean() const { return n > 0 ? sum / n : 0; }
  double StandardError() const {
    if (n < 2) return 0;
    const double mean = Mean();
    return std::sqrt(std::max(0.0, squares / n - mean * mean) / (n - 1));
  }
};

// One model's state for evaluating chunks: a cache for one chunk and a batch of logits rows.
class ChunkEvaluator {
 public:
  static Result<ChunkEvaluator> Create(const Model& model, const PerplexityOptions& options) {
    const ModelConfig& config = model.config();
    KvCacheOptions kv;
    kv.shape = config.kv_shape(options.kv_dtype, options.kv_dtype);
    kv.block_size = 16;
    kv.n_blocks = KvCacheOptions::BlocksFor(options.context, 1, kv.block_size);
    kv.sliding_window = config.sliding_window;
    kv.prefix_sharing = false;  // each chunk is evaluated from scratch
    KVIK_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, KvCache::Create(kv));
    return ChunkEvaluator(model, std::move(cache), std::min(options.batch_tokens, options.context));
  }
  int64_t batch() const { return batch_; }
  void StartChunk() { seq_ = cache_->AddSequence(); }
  void EndChunk() { cache_->RemoveSequence(seq_); }
  // The next tokens of the chunk; afterwards row(i) holds token i's logits.
  Status Step(std::span<const int32_t> tokens, ThreadPool* pool) {
    return model_->Forward(tokens, seq_, *cache_, state_, logits_.data(), true, pool);
  }
  const float* row(int64_t i) const { return logits_.data() + i * model_->config().vocab_size; }

 private:
  ChunkEvaluator(const Model& model, std::unique_ptr<KvCache> cache, int64_t batch)
      : model_(&model),
        cache_(std::move(cache)),
        batch_(batch),
        state_(model.config(), batch),
        logits_(batch * model.config().vocab_size) {}
  const Model* model_;
  std::unique_ptr<KvCache> cache_;
  int64_t batch_;
  ForwardState state_;
  std::vector<float> logits_;
  SequenceId seq_ = 0;
};

Status CheckOptions(const ModelConfig& config, std::span<const int32_t> tokens,
                    const PerplexityOptions& options) {
  // The second half of a chunk is scored: at least one token needs context >= 3.
  if (options.context < 3 || options.context > config.context_length) {
    return InvalidArgument("perplexity context " + std::to_string(options.context) +
                           " must be between 3 and the model's context length " +
                           std::to_string(config.context_length));
  }
  if (options.batch_tokens < 1) return InvalidArgument("perplexity batch must be positive");
  if (static_cast<int64_t>(tokens.size()) < options.context) {
    return InvalidArgument("the text has " + std::to_string(tokens.size()) +
                           " tokens, fewer than one chunk of " + std::to_string(options.context) +
                           " (use a longer text or a smaller context)");
  }
  return Status::Ok();
}

int64_t ChunkCount(std::span<const int32_t> tokens, const PerplexityOptions& options) {
  const int64_t whole = static_cast<int64_t>(tokens.size()) / options.context;
  return options.max_chunks > 0 ? std::min(whole, options.max_chunks) : whole;
}

// Runs `evaluators` over every chunk in lockstep and calls visit(p, chunk) for each scored
// position p (its logits in each evaluator's row(p − batch start)), then after_chunk(c).
template <class Visit, class AfterChunk>
Status ForEachScoredPosition(std::span<ChunkEvaluator* const> evaluators,
                             std::span<const int32_t> tokens, const PerplexityOptions& options,
                             ThreadPool* pool, const Visit& visit, const AfterChunk& after_chunk) {
  const int64_t context = options.context, batch = evaluators[0]->batch();
  // Position p's logits predict token p + 1; positions [first, context − 1) are scored.
  const int64_t first = context / 2;
  std::vector<int32_t> chunk(context);
  for (int64_t c = 0; c < ChunkCount(tokens, options); ++c) {
    std::copy_n(tokens.begin() + c * context, context, chunk.begin());
    if (options.bos_id >= 0) chunk[0] = options.bos_id;
    for (ChunkEvaluator* e : evaluators) e->StartChunk();
    Status status = Status::Ok();
    for (int64_t start = 0; start < context && status.ok(); start += batch) {
      const int64_t n = std::min(batch, context - start);
      for (ChunkEvaluator* e : evaluators) {
        status = e->Step(std::span<const int32_t>(chunk).subspan(start, n), pool);
        if (!status.ok()) break;
      }
      if (!status.ok()) break;
      for (int64_t p = std::max(start, first); p < std::min(start + n, context - 1); ++p) {
        visit(p - start, chunk[p + 1]);
      }
    }
    for (ChunkEvaluator* e : evaluators) e->EndChunk();
    KVIK_RETURN_IF_ERROR(status);
    after_chunk(c);
  }
  return Status::Ok();
}

void Finish(const MeanAccumulator& nll, int64_t chunks, PerplexityResult& result) {
  result.chunks = chunks;
  result.scored_tokens = nll.n;
  result.mean_nll = nll.Mean();
  result.perplexity = std::exp(result.mean_nll);
  // The delta method: d exp(m) = exp(m) dm.
  result.perplexity_error = result.perplexity * nll.StandardError();
  result.running_perplexity.push_back(result.perplexity);
}

}  // namespace

double NegativeLogLikelihood(const float* logits, int64_t vocab_size, int32_t target) {
  return LogSumExp(logits, vocab_size) - logits[target];
}

Result<PerplexityResult> Perplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options, ThreadPool* pool,
                                    const PerplexityProgress& progress) {
  const ModelConfig& config = model.config();
  KVIK_RETURN_IF_ERROR(CheckOptions(config, tokens, options));
  KVIK_ASSIGN_OR_RETURN(ChunkEvaluator evaluator, ChunkEvaluator::Create(model, options));
  ChunkEvaluator* evaluators[] = {&evaluator};
  MeanAccumulator nll;
  PerplexityResult result;
  KVIK_RETURN_IF_ERROR(ForEachScoredPosition(
      evaluators, tokens, options, pool,
      [&](int64_t row, int32_t next) {
        nll.Add(NegativeLogLikelihood(evaluator.row(row), config.vocab_size, next));
      },
      [&](int64_t chunk) {
        Finish(nll, chunk + 1, result);
        if (progress) progress(result);
      }));
  return result;
}

Result<ModelComparison> CompareModels(const Model& base, const Model& model,
                                      std::span<const int32_t> tokens,
                                      const PerplexityOptions& options, ThreadPool* pool,
                                      const std::function<void(const ModelComparison&)>& progress) {
  const int64_t vocab = model.config().vocab_size;
  if (base.config().vocab_size != vocab) {
    return InvalidArgument("the base model's vocabulary has " +
                           std::to_string(base.config().vocab_size) + " tokens, this one " +
                           std::to_string(vocab));
  }
  KVIK_RETURN_IF_ERROR(CheckOptions(base.config(), tokens, options));
  KVIK_RETURN_IF_ERROR(CheckOptions(model.config(), tokens, options));
  KVIK_ASSIGN_OR_RETURN(ChunkEvaluator base_evaluator, ChunkEvaluator::Create(base, options));
  KVIK_ASSIGN_OR_RETURN(ChunkEvaluator evaluator, ChunkEvaluator::Create(model, options));
  ChunkEvaluator* evaluators[] = {&base_evaluator, &evaluator};
  MeanAccumulator base_nll, nll, kl;
  int64_t same_top = 0;
  ModelComparison result;
  KVIK_RETURN_IF_ERROR(ForEachScoredPosition(
      evaluators, tokens, options, pool,
      [&](int64_t row, int32_t next) {
        const float *p = base_evaluator.row(row), *q = evaluator.row(row);
        base_nll.Add(NegativeLogLikelihood(p, vocab, next));
        nll.Add(NegativeLogLikelihood(q, vocab, next));
        const double divergence = KlDivergence(p, q, vocab);
        kl.Add(divergence);
        result.max_kl = std::max(result.max_kl, divergence);
        same_top += ArgMax(p, vocab) == ArgMax(q, vocab);
      },
      [&](int64_t chunk) {
        Finish(base_nll, chunk + 1, result.base);
        Finish(nll, chunk + 1, result.model);
        result.mean_kl = kl.Mean();
        result.kl_error = kl.StandardError();
        result.same_top = static_cast<double>(same_top) / kl.n;
        if (progress) progress(result);
      }));
  return result;
}

}  // namespace kvik
