// Generate over the managed KV cache: quantised KV quality, prompt-cache save/load, context shift.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kvik/generate.h"
#include "kvik/perplexity.h"
#include "kvik/tensor.h"
#include "model/cache_equivalence.h"
#include "testing/fixtures.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

using GenerateKvTest = testing::TinyModelTest;

GenerateOptions Greedy(int n) {
  GenerateOptions options;
  options.max_new_tokens = n;
  options.sampling.temperature = 0;
  options.stop_at_eos = false;
  return options;
}

// Logits of every position of `tokens` with keys and values stored as `dtype`.
std::vector<float> AllLogits(const Model& model, const std::vector<int32_t>& tokens, DType dtype,
                             ThreadPool* pool) {
  const ModelConfig& c = model.config();
  auto cache = testing::NewCache(c, tokens.size(), dtype);
  ForwardState state(c, 128);
  std::vector<float> logits(tokens.size() * c.vocab_size);
  EXPECT_TRUE(model.Forward(tokens, cache->AddSequence(), *cache, state, logits.data(), true, pool).ok());
  return logits;
}

struct KvQuality {
  double changed_fraction;     // positions whose greedy choice differs from the f32 cache's
  double perplexity_ratio;     // perplexity with this KV type / with f32
};

// 50 prompts × 64 tokens: each stream is sampled from the model (temperature 1), then scored with
// an f32 and a quantised KV cache — same tokens, so the only difference is the cache.
KvQuality MeasureKvQuality(const Model& model, DType dtype, ThreadPool* pool) {
  const int64_t vocab = model.config().vocab_size;
  int64_t changed = 0, scored = 0;
  double nll_f32 = 0, nll_quant = 0;
  const auto prompts = testing::RandomPrompts(50, vocab, 31);
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerateOptions options = Greedy(64);
    options.sampling.temperature = 1.0f;
    options.sampling.seed = 100 + i;
    std::vector<int32_t> stream = prompts[i];
    const auto result = Generate(model, prompts[i], options, pool).value();
    stream.insert(stream.end(), result.tokens.begin(), result.tokens.end());
    const auto reference = AllLogits(model, stream, DType::kF32, pool);
    const auto quantised = AllLogits(model, stream, dtype, pool);
    for (size_t p = prompts[i].size() - 1; p + 1 < stream.size(); ++p) {
      const float* a = reference.data() + p * vocab;
      const float* b = quantised.data() + p * vocab;
      changed += ArgMax(a, vocab) != ArgMax(b, vocab);
      nll_f32 += NegativeLogLikelihood(a, vocab, stream[p + 1]);
      nll_quant += NegativeLogLikelihood(b, vocab, stream[p + 1]);
      ++scored;
    }
  }
  return {static_cast<double>(changed) / scored, std::exp((nll_quant - nll_f32) / scored)};
}

TEST_F(GenerateKvTest, Q8KvCacheChangesUnderFivePercentOfGreedyTokensAndPerplexityUnderHalfAPercent) {
  ThreadPool pool(2);
  const KvQuality q8 = MeasureKvQuality(*model_, DType::kQ8_0, &pool);
  const KvQuality q4 = MeasureKvQuality(*model_, DType::kQ4_0, &pool);
  const KvQuality f16 = MeasureKvQuality(*model_, DType::kF16, &pool);
  std::printf("KV quality over 50x64 tokens: f16 changed %.2f%% ppl x%.5f | q8_0 changed %.2f%% "
              "ppl x%.5f | q4_0 changed %.2f%% ppl x%.5f\n",
              100 * f16.changed_fraction, f16.perplexity_ratio, 100 * q8.changed_fraction,
              q8.perplexity_ratio, 100 * q4.changed_fraction, q4.perplexity_ratio);
  EXPECT_LT(q8.changed_fraction, 0.05);
  EXPECT_LT(std::fabs(q8.perplexity_ratio - 1), 0.005);
}

TEST_F(GenerateKvTest, SaveThenLoadThenContinueEqualsUninterruptedGeneration) {
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = {1, 40, 41, 42, 43, 44, 45};
  const auto whole = Generate(*model_, prompt, Greedy(30), &pool).value();

  GenerateOptions first = Greedy(12);
  first.kv_save_path = dir_->File("prompt.kv");
  const auto part1 = Generate(*model_, prompt, first, &pool).value();

  std::vector<int32_t> resumed_prompt = prompt;
  resumed_prompt.insert(resumed_prompt.end(), part1.tokens.begin(), part1.tokens.end());
  GenerateOptions second = Greedy(18);
  second.kv_load_path = first.kv_save_path;
  const auto part2 = Generate(*model_, resumed_prompt, second, &pool).value();
  // Everything but the last generated token was in the file; only that one is computed.
  EXPECT_EQ(part2.prompt_tokens_computed, 1);

  std::vector<int32_t> joined = part1.tokens;
  joined.insert(joined.end(), part2.tokens.begin(), part2.tokens.end());
  EXPECT_EQ(joined, whole.tokens);

  // A prompt that only partly matches the file reuses the matching part.
  std::vector<int32_t> other = prompt;
  other.push_back(300);
  const auto partial = Generate(*model_, other, second, &pool).value();
  EXPECT_EQ(partial.prompt_tokens_computed, 1);

  GenerateOptions wrong_type = second;
  wrong_type.kv_key_dtype = wrong_type.kv_value_dtype = DType::kF16;
  EXPECT_FALSE(Generate(*model_, resumed_prompt, wrong_type, &pool).ok());
}

TEST_F(GenerateKvTest, ContextShiftKeepsGeneratingPastTheContext) {
  GenerateOptions options = Greedy(100);
  options.context_tokens = 32;
  const std::vector<int32_t> prompt = {1, 50, 51, 52};
  const auto stopped = Generate(*model_, prompt, options, nullptr).value();
  EXPECT_EQ(stopped.finish_reason, FinishReason::kLength);
  EXPECT_EQ(static_cast<int64_t>(stopped.tokens.size()), 32 - 4 + 1);

  options.context_shift = true;
  options.keep_tokens = 1;
  const auto shifted = Generate(*model_, prompt, options, nullptr).value();
  EXPECT_EQ(shifted.tokens.size(), 100u);
  EXPECT_GT(shifted.context_shifts, 0);
  EXPECT_LE(shifted.kv_stats.blocks_total * 16, 32);
  // Up to the first shift both runs are the same computation.
  EXPECT_TRUE(std::equal(stopped.tokens.begin(), stopped.tokens.end(), shifted.tokens.begin()));
}

TEST_F(GenerateKvTest, SlidingWindowBoundsThePoolHoweverLongTheGeneration) {
  GenerateOptions options = Greedy(600);
  options.sliding_window = 32;
  options.block_size = 8;
  const auto result = Generate(*model_, {1, 60, 61}, options, nullptr).value();
  EXPECT_EQ(result.tokens.size(), 600u);
  EXPECT_LE(result.kv_bytes_peak, (32 / 8 + 2) * 8 * model_->config().kv_shape(DType::kF32).bytes_per_token());
}

TEST_F(GenerateKvTest, KeysAndValuesMayUseDifferentTypes) {
  GenerateOptions options = Greedy(10);
  options.kv_key_dtype = DType::kQ8_0;
  options.kv_value_dtype = DType::kF16;
  const auto result = Generate(*model_, {1, 70, 71}, options, nullptr).value();
  const KvShape shape = model_->config().kv_shape(DType::kQ8_0, DType::kF16);
  EXPECT_EQ(result.kv_bytes_allocated, 16 * shape.bytes_per_token());  // one 16-token block
  EXPECT_EQ(shape.bytes_per_token(), 2u * 2 * (34 + 64));
}

}  // namespace
}  // namespace kvik
