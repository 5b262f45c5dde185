// The model over the paged cache: block size, batching and prefix reuse change no bit of the output.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kvik/model.h"
#include "kvik/tensor.h"
#include "model/cache_equivalence.h"
#include "testing/fixtures.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

class PagedForwardTest : public testing::TinyModelTest {
 protected:
  const ModelConfig& config() const { return model_->config(); }

  // Greedy decode of `n_new` tokens after `prompt` in a fresh cache; returns every step's logits.
  std::vector<std::vector<float>> Decode(const std::vector<int32_t>& prompt, int n_new,
                                         int64_t block_size, DType dtype, ThreadPool* pool,
                                         int64_t window = 0) const {
    KvCacheOptions options;
    options.shape = config().kv_shape(dtype);
    options.block_size = block_size;
    options.n_blocks = KvCacheOptions::BlocksFor(prompt.size() + n_new, 1, block_size);
    options.sliding_window = window;
    auto cache = KvCache::Create(options).value();
    const SequenceId seq = cache->AddSequence();
    ForwardState state(config(), 16);
    std::vector<std::vector<float>> steps;
    std::vector<float> logits(config().vocab_size);
    EXPECT_TRUE(model_->Forward(prompt, seq, *cache, state, logits.data(), false, pool).ok());
    for (int i = 0; i < n_new; ++i) {
      steps.push_back(logits);
      const int32_t next = ArgMax(logits.data(), config().vocab_size);
      EXPECT_TRUE(model_->Forward({&next, 1}, seq, *cache, state, logits.data(), false, pool).ok());
    }
    return steps;
  }

};

TEST_F(PagedForwardTest, LogitsAreBitIdenticalForBlockSizes1And16And64AndADenseCache) {
  ThreadPool pool(2);
  for (DType dtype : {DType::kF32, DType::kF16}) {
    for (const auto& prompt : testing::RandomPrompts(3, config().vocab_size, 21)) {
      const int n_new = 37;  // prompt + 37 is not a multiple of any block size here
      const int64_t dense_block = static_cast<int64_t>(prompt.size()) + n_new;
      const auto dense = Decode(prompt, n_new, dense_block, dtype, &pool);
      for (int64_t block : {1, 16, 64}) {
        const auto paged = Decode(prompt, n_new, block, dtype, &pool);
        ASSERT_EQ(paged.size(), dense.size());
        for (size_t i = 0; i < dense.size(); ++i) {
          ASSERT_EQ(0, std::memcmp(paged[i].data(), dense[i].data(),
                                   sizeof(float) * config().vocab_size))
              << Name(dtype) << " block " << block << " step " << i;
        }
      }
    }
  }
}

TEST_F(PagedForwardTest, CacheEqualsRecomputeWithOneTokenBlocks) {
  ThreadPool pool(2);
  for (const auto& prompt : testing::RandomPrompts(2, config().vocab_size, 22)) {
    testing::ExpectCacheEqualsRecompute(*model_, prompt, 20, &pool, DType::kF32, 1);
  }
}

// Continuous batching's core: several sequences in one forward step give each the logits it gets
// alone, bit for bit, including prompts being prefilled next to sequences decoding.
TEST_F(PagedForwardTest, ABatchOfSequencesGivesEachTheLogitsItGetsAlone) {
  ThreadPool pool(2);
  const auto prompts = testing::RandomPrompts(6, config().vocab_size, 23);
  const int vocab = static_cast<int>(config().vocab_size);
  auto batched = testing::NewCache(config(), 64, DType::kF32, 16, prompts.size());
  ForwardState state(config(), 40);  // smaller than the first step's rows: chunks split items
  std::vector<SequenceId> seqs;
  std::vector<ForwardItem> items;
  for (const auto& p : prompts) {
    seqs.push_back(batched->AddSequence());
    items.push_back({seqs.back(), p, LogitRows::kLast});
  }
  // Step 1: all prompts at once; steps 2-4: one decode token each, in one batch.
  std::vector<float> logits(prompts.size() * vocab);
  ASSERT_TRUE(model_->Forward(items, *batched, state, logits.data(), &pool).ok());
  std::vector<std::vector<int32_t>> sequences(prompts.begin(), prompts.end());
  std::vector<int32_t> next(prompts.size());
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      next[i] = ArgMax(logits.data() + i * vocab, vocab);
      sequences[i].push_back(next[i]);
      items[i] = {seqs[i], {&next[i], 1}, LogitRows::kLast};
    }
    ASSERT_TRUE(model_->Forward(items, *batched, state, logits.data(), &pool).ok());
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto alone = testing::NewCache(config(), 64);
    std::vector<float> expected(vocab);
    ASSERT_TRUE(model_->Forward(sequences[i], alone->AddSequence(), *alone, state, expected.data(),
                                false, &pool)
                    .ok());
    ASSERT_EQ(0, std::memcmp(expected.data(), logits.data() + i * vocab, sizeof(float) * vocab))
        << "sequence " << i;
  }
}

TEST_F(PagedForwardTest, ABatchThatDoesNotFitFailsBeforeComputingAnything) {
  auto cache = testing::NewCache(config(), 16, DType::kF32, 16, 1);
  ForwardState state(config(), 64);
  const SequenceId a = cache->AddSequence(), b = cache->AddSequence();
  const std::vector<int32_t> tokens(10, 5);
  const ForwardItem items[] = {{a, tokens, LogitRows::kLast}, {b, tokens, LogitRows::kLast}};
  std::vector<float> logits(2 * config().vocab_size);
  EXPECT_EQ(model_->Forward(items, *cache, state, logits.data(), nullptr).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(cache->n_tokens(a), 0);
  const ForwardItem twice[] = {{a, tokens, LogitRows::kLast}, {a, tokens, LogitRows::kLast}};
  EXPECT_EQ(model_->Forward(twice, *cache, state, logits.data(), nullptr).code(),
            StatusCode::kInvalidArgument);
}

// A second request sharing a 1,000-token prefix with the first computes only its own suffix and
// still produces exactly the tokens it produces without sharing.
TEST_F(PagedForwardTest, SharedPrefixIsReusedAcrossRequestsAndChangesNoToken) {
  ThreadPool pool(2);
  std::mt19937 rng(24);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(config().vocab_size) - 1);
  std::vector<int32_t> prefix(1000);
  for (auto& t : prefix) t = token(rng);
  auto request = [&](int32_t salt) {
    std::vector<int32_t> p = prefix;
    for (int i = 0; i < 32; ++i) p.push_back(3 + (salt * 31 + i) % 400);
    return p;
  };
  const auto first = request(1), second = request(2);
  auto generate = [&](KvCache& cache, const std::vector<int32_t>& prompt, int64_t* computed) {
    ForwardState state(config(), 256);
    const SequenceId seq = cache.AddSequence();
    const int64_t reused = cache.MatchPrefix(seq, prompt, prompt.size() - 1).value();
    *computed = static_cast<int64_t>(prompt.size()) - reused;
    std::vector<float> logits(config().vocab_size);
    std::vector<int32_t> out;
    EXPECT_TRUE(model_->Forward(std::span<const int32_t>(prompt).subspan(reused), seq, cache, state,
                                logits.data(), false, &pool)
                    .ok());
    for (int i = 0; i < 8; ++i) {
      out.push_back(ArgMax(logits.data(), config().vocab_size));
      EXPECT_TRUE(model_->Forward({&out.back(), 1}, seq, cache, state, logits.data(), false, &pool).ok());
    }
    cache.RemoveSequence(seq);
    return out;
  };
  auto shared = testing::NewCache(config(), 1100, DType::kF32, 16, 2, /*prefix_sharing=*/true);
  int64_t computed_first = 0, computed_second = 0, computed_alone = 0;
  generate(*shared, first, &computed_first);
  const auto with_sharing = generate(*shared, second, &computed_second);
  auto fresh = testing::NewCache(config(), 1100, DType::kF32, 16, 1, /*prefix_sharing=*/true);
  const auto without_sharing = generate(*fresh, second, &computed_alone);
  EXPECT_EQ(computed_first, 1032);
  EXPECT_EQ(computed_second, 32);  // 62 blocks by reference + 8 tokens copied: the whole prefix
  EXPECT_EQ(computed_alone, 1032);
  EXPECT_EQ(with_sharing, without_sharing);
}

TEST_F(PagedForwardTest, SlidingWindowDecodeEqualsWindowedRecomputeAndDiffersFromFullAttention) {
  ThreadPool pool(2);
  const auto prompt = testing::RandomPrompts(1, config().vocab_size, 25)[0];
  const int n_new = 40;
  const int64_t window = 20;
  const auto windowed = Decode(prompt, n_new, 8, DType::kF32, &pool, window);
  const auto full = Decode(prompt, n_new, 8, DType::kF32, &pool);
  // Recompute each step over the whole sequence with the same window.
  std::vector<int32_t> sequence = prompt;
  bool differs_from_full = false;
  for (int i = 0; i < n_new; ++i) {
    KvCacheOptions options;
    options.shape = config().kv_shape(DType::kF32);
    options.block_size = 8;
    options.n_blocks = KvCacheOptions::BlocksFor(sequence.size(), 1, 8);
    options.sliding_window = window;
    auto cache = KvCache::Create(options).value();
    ForwardState state(config(), 16);
    std::vector<float> logits(config().vocab_size);
    ASSERT_TRUE(model_->Forward(sequence, cache->AddSequence(), *cache, state, logits.data(), false,
                                &pool)
                    .ok());
    ASSERT_EQ(0, std::memcmp(logits.data(), windowed[i].data(), sizeof(float) * logits.size()))
        << "step " << i;
    if (static_cast<int64_t>(sequence.size()) <= window) {
      ASSERT_EQ(0, std::memcmp(full[i].data(), windowed[i].data(), sizeof(float) * logits.size()));
    } else if (std::memcmp(full[i].data(), windowed[i].data(), sizeof(float) * logits.size()) != 0) {
      differs_from_full = true;
    }
    sequence.push_back(ArgMax(windowed[i].data(), config().vocab_size));
  }
  EXPECT_TRUE(differs_from_full);
}

}  // namespace
}  // namespace kvik
