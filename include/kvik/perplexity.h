// Perplexity of a model on a token stream, the way llama.cpp's `llama-perplexity` measures it, so
// numbers compare across engines: the stream is cut into chunks of `context` tokens, each chunk is
// evaluated on its own (its first token replaced by BOS when the vocabulary has one), and only
// the second half of each chunk is scored, so every scored token sees at least context / 2 tokens
// before it. PPL = exp(mean negative log-likelihood of the scored tokens).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "kvik/dtype.h"
#include "kvik/model.h"
#include "kvik/status.h"

namespace kvik {

struct PerplexityOptions {
  int64_t context = 512;   // tokens per chunk, at most the model's context length
  int64_t max_chunks = 0;  // 0: every whole chunk in the stream
  int32_t bos_id = -1;     // replaces each chunk's first token; -1: none
  DType kv_dtype = DType::kF32;
  int64_t batch_tokens = 64;  // tokens per forward call (bounds the logits buffer)
};

struct PerplexityResult {
  int64_t chunks = 0;
  int64_t scored_tokens = 0;
  double mean_nll = 0;    // nats per scored token
  double perplexity = 0;  // exp(mean_nll)
  // One standard error of the perplexity, from the scored tokens' NLL spread (the delta method:
  // PPL · stderr(mean NLL)), as llama-perplexity reports it.
  double perplexity_error = 0;
  std::vector<double> running_perplexity;  // after each chunk
};

// Called after each chunk with the result so far.
using PerplexityProgress = std::function<void(const PerplexityResult& so_far)>;

// InvalidArgument when the stream holds less than one chunk or the context is out of range.
Result<PerplexityResult> Perplexity(const Model& model, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options, ThreadPool* pool,
                                    const PerplexityProgress& progress = {});

// Two models with the same vocabulary on the same chunks (llama-perplexity's --kl-divergence): how
// far `model` (say, a quantization) moves each scored position's next-token distribution from
// `base`'s, and how often it keeps base's most likely token. Unlike comparing greedy generations,
// every position is judged on the same context, so one early disagreement does not decide the rest.
struct ModelComparison {
  PerplexityResult base, model;  // each one's perplexity on the same chunks
  double mean_kl = 0;            // mean KL(base ‖ model) over the scored tokens, nats
  double kl_error = 0;           // standard error of mean_kl
  double max_kl = 0;
  double same_top = 0;  // fraction of scored positions where the two argmaxes agree
};

// InvalidArgument as Perplexity, or when the vocabularies differ in size.
Result<ModelComparison> CompareModels(
    const Model& base, const Model& model, std::span<const int32_t> tokens,
    const PerplexityOptions& options, ThreadPool* pool,
    const std::function<void(const ModelComparison&)>& progress = {});

// −log softmax(logits)[target], computed in double with the max subtracted first.
double NegativeLogLikelihood(const float* logits, int64_t vocab_size, int32_t target);

}  // namespace kvik
