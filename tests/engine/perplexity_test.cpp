// Perplexity (kvik/perplexity.h): llama-perplexity's chunking and scoring, checked against the
// definition computed here from one forward pass per chunk.
#include "kvik/perplexity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kvik/tensor.h"
#include "testing/fixtures.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

using PerplexityTest = testing::TinyModelTest;

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = token(rng);
  return tokens;
}

TEST(NegativeLogLikelihoodTest, IsTheLogSumExpMinusTheTargetLogit) {
  const float logits[] = {1.0f, 2.0f, 0.5f, -3.0f};
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l));
  EXPECT_NEAR(NegativeLogLikelihood(logits, 4, 1), std::log(sum) - 2.0, 1e-12);
  // Large logits must not overflow: the maximum is subtracted first.
  const float big[] = {1000.0f, 1000.0f};
  EXPECT_NEAR(NegativeLogLikelihood(big, 2, 0), std::log(2.0), 1e-12);
}

// The definition, from scratch: each chunk of `context` tokens (its first replaced by BOS) in one
// forward pass with every position's logits; positions [context / 2, context − 1) score the next.
double ReferencePerplexity(const Model& model, const std::vector<int32_t>& tokens, int64_t context,
                           int32_t bos) {
  const ModelConfig& c = model.config();
  double nll = 0;
  int64_t scored = 0;
  for (size_t start = 0; start + context <= tokens.size(); start += context) {
    std::vector<int32_t> chunk(tokens.begin() + start, tokens.begin() + start + context);
    chunk[0] = bos;
    auto cache = testing::NewCache(c, context);
    ForwardState state(c, context);
    std::vector<float> logits(context * c.vocab_size);
    EXPECT_TRUE(
        model.Forward(chunk, cache->AddSequence(), *cache, state, logits.data(), true, nullptr)
            .ok());
    for (int64_t p = context / 2; p + 1 < context; ++p) {
      nll += NegativeLogLikelihood(logits.data() + p * c.vocab_size, c.vocab_size, chunk[p + 1]);
      ++scored;
    }
  }
  return std::exp(nll / scored);
}

TEST_F(PerplexityTest, MatchesTheDefinitionChunkByChunk) {
  const auto tokens = RandomTokens(3 * 40 + 17, model_->config().vocab_size, 1);
  PerplexityOptions options;
  options.context = 40;
  options.bos_id = 1;
  const auto result = Perplexity(*model_, tokens, options, nullptr).value();
  EXPECT_EQ(result.chunks, 3);  // the 17 left over make no whole chunk
  EXPECT_EQ(result.scored_tokens, 3 * (40 - 1 - 20));
  EXPECT_NEAR(result.perplexity, ReferencePerplexity(*model_, tokens, 40, 1),
              1e-9 * result.perplexity);
  EXPECT_NEAR(result.perplexity, std::exp(result.mean_nll), 1e-12 * result.perplexity);
  ASSERT_EQ(result.running_perplexity.size(), 3u);
  EXPECT_EQ(result.running_perplexity.back(), result.perplexity);
  EXPECT_GT(result.perplexity_error, 0);
}

// Forward calls of any size give the same logits bit for bit (chunked prefill), and so do any
// number of threads: the result does not depend on how the work is cut.
TEST_F(PerplexityTest, IsTheSameForAnyBatchSizeAndThreadCount) {
  const auto tokens = RandomTokens(2 * 48, model_->config().vocab_size, 2);
  PerplexityOptions options;
  options.context = 48;
  options.batch_tokens = 48;
  const double whole = Perplexity(*model_, tokens, options, nullptr).value().perplexity;
  ThreadPool pool(2);
  for (int64_t batch : {1, 7, 16}) {
    options.batch_tokens = batch;
    EXPECT_EQ(Perplexity(*model_, tokens, options, nullptr).value().perplexity, whole) << batch;
    EXPECT_EQ(Perplexity(*model_, tokens, options, &pool).value().perplexity, whole) << batch;
  }
}

TEST_F(PerplexityTest, MaxChunksStopsEarly) {
  const auto tokens = RandomTokens(5 * 32, model_->config().vocab_size, 3);
  PerplexityOptions options;
  options.context = 32;
  options.max_chunks = 2;
  const auto result = Perplexity(*model_, tokens, options, nullptr).value();
  EXPECT_EQ(result.chunks, 2);
  const std::vector<int32_t> first_two(tokens.begin(), tokens.begin() + 64);
  options.max_chunks = 0;
  EXPECT_EQ(Perplexity(*model_, first_two, options, nullptr).value().perplexity, result.perplexity);
}

TEST_F(PerplexityTest, RejectsTooFewTokensAndContextsOutOfRange) {
  const auto tokens = RandomTokens(100, model_->config().vocab_size, 4);
  PerplexityOptions options;
  options.context = 101;
  auto short_text = Perplexity(*model_, tokens, options, nullptr);
  ASSERT_FALSE(short_text.ok());
  EXPECT_NE(short_text.status().message().find("fewer than one chunk"), std::string::npos);
  options.context = 2;
  EXPECT_FALSE(Perplexity(*model_, tokens, options, nullptr).ok());
  options.context = model_->config().context_length + 1;
  EXPECT_FALSE(Perplexity(*model_, tokens, options, nullptr).ok());
  options.context = 50;
  options.batch_tokens = 0;
  EXPECT_FALSE(Perplexity(*model_, tokens, options, nullptr).ok());
}

TEST_F(PerplexityTest, TokensOutsideTheVocabularyAreAnErrorNotACrash) {
  auto tokens = RandomTokens(64, model_->config().vocab_size, 5);
  tokens[40] = static_cast<int32_t>(model_->config().vocab_size);
  PerplexityOptions options;
  options.context = 64;
  EXPECT_FALSE(Perplexity(*model_, tokens, options, nullptr).ok());
}

// KL(p ‖ q) from scratch in double: softmax both rows, then Σ p (log p − log q).
double ReferenceKl(const float* p_logits, const float* q_logits, int64_t vocab) {
  double p_max = p_logits[0], q_max = q_logits[0];
  for (int64_t i = 1; i < vocab; ++i) {
    p_max = std::max<double>(p_max, p_logits[i]);
    q_max = std::max<double>(q_max, q_logits[i]);
  }
  double p_sum = 0, q_sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    p_sum += std::exp(p_logits[i] - p_max);
    q_sum += std::exp(q_logits[i] - q_max);
  }
  double kl = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double log_p = p_logits[i] - p_max - std::log(p_sum);
    const double log_q = q_logits[i] - q_max - std::log(q_sum);
    kl += std::exp(log_p) * (log_p - log_q);
  }
  return kl;
}

// Every position's logits of one chunk (context tokens, the first replaced by BOS 1).
std::vector<float> ChunkLogits(const Model& model, std::vector<int32_t> chunk) {
  const ModelConfig& c = model.config();
  chunk[0] = 1;
  auto cache = testing::NewCache(c, chunk.size());
  ForwardState state(c, chunk.size());
  std::vector<float> logits(chunk.size() * c.vocab_size);
  EXPECT_TRUE(
      model.Forward(chunk, cache->AddSequence(), *cache, state, logits.data(), true, nullptr).ok());
  return logits;
}

TEST_F(PerplexityTest, ComparingAModelWithItselfFindsNoDivergence) {
  const auto tokens = RandomTokens(2 * 32, model_->config().vocab_size, 6);
  PerplexityOptions options;
  options.context = 32;
  const auto same = CompareModels(*model_, *model_, tokens, options, nullptr).value();
  EXPECT_EQ(same.mean_kl, 0.0);
  EXPECT_EQ(same.max_kl, 0.0);
  EXPECT_EQ(same.same_top, 1.0);
  EXPECT_EQ(same.base.perplexity, same.model.perplexity);
  EXPECT_EQ(same.model.perplexity,
            Perplexity(*model_, tokens, options, nullptr).value().perplexity);
}

TEST_F(PerplexityTest, ComparisonWithAQuantizedModelMatchesTheDefinition) {
  auto q4 = Model::Load(testing::WriteModel(*dir_, "q4.gguf", testing::TinyPreset(), DType::kQ4_0))
                .value();
  const int64_t vocab = model_->config().vocab_size, context = 40;
  const auto tokens = RandomTokens(2 * context, vocab, 7);
  PerplexityOptions options;
  options.context = context;
  options.bos_id = 1;
  options.batch_tokens = 16;
  ThreadPool pool(2);
  const auto result = CompareModels(*model_, *q4, tokens, options, &pool).value();
  double kl = 0, max_kl = 0;
  int64_t scored = 0, same_top = 0;
  for (int64_t c = 0; c < 2; ++c) {
    const std::vector<int32_t> chunk(tokens.begin() + c * context,
                                     tokens.begin() + (c + 1) * context);
    const auto p = ChunkLogits(*model_, chunk), q = ChunkLogits(*q4, chunk);
    for (int64_t pos = context / 2; pos + 1 < context; ++pos) {
      const double d = ReferenceKl(&p[pos * vocab], &q[pos * vocab], vocab);
      kl += d;
      max_kl = std::max(max_kl, d);
      same_top += ArgMax(&p[pos * vocab], vocab) == ArgMax(&q[pos * vocab], vocab);
      ++scored;
    }
  }
  EXPECT_EQ(result.model.scored_tokens, scored);
  EXPECT_GT(result.mean_kl, 0.0);
  EXPECT_NEAR(result.mean_kl, kl / scored, 1e-9);
  EXPECT_NEAR(result.max_kl, max_kl, 1e-9);
  EXPECT_DOUBLE_EQ(result.same_top, static_cast<double>(same_top) / scored);
  EXPECT_EQ(result.base.perplexity, Perplexity(*model_, tokens, options, &pool).value().perplexity);
  EXPECT_EQ(result.model.perplexity, Perplexity(*q4, tokens, options, &pool).value().perplexity);
}

TEST_F(PerplexityTest, ComparingModelsWithDifferentVocabulariesIsAnError) {
  testing::TempDir dir;
  auto preset = testing::TinyPreset();
  preset.vocab_size = 300;
  auto other = Model::Load(testing::WriteModel(dir, "small-vocab.gguf", preset)).value();
  const auto tokens = RandomTokens(64, 300, 8);
  PerplexityOptions options;
  options.context = 32;
  const auto result = CompareModels(*model_, *other, tokens, options, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("vocabulary"), std::string::npos);
}

}  // namespace
}  // namespace kvik
