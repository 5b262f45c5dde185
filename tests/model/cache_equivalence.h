// Shared by the fast and slow cache-equivalence tests: decode greedily with the KV cache and by full
// recompute, and require the same tokens and bit-identical logits at every step.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kvik/model.h"
#include "kvik/tensor.h"
#include "testing/fixtures.h"
#include "util/thread_pool.h"

namespace kvik::testing {

inline std::vector<std::vector<int32_t>> RandomPrompts(int n_prompts, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab) - 1);
  std::uniform_int_distribution<int> length(1, 24);
  std::vector<std::vector<int32_t>> prompts(n_prompts);
  for (auto& p : prompts) {
    p.push_back(1);  // BOS
    for (int i = length(rng); i > 0; --i) p.push_back(token(rng));
  }
  return prompts;
}

// Greedy-decodes `n_new` tokens twice — cached (one token per step) and recomputing the whole
// sequence each step — and asserts identical tokens and bit-identical logits at every step.
inline void ExpectCacheEqualsRecompute(const Model& model, const std::vector<int32_t>& prompt,
                                       int n_new, ThreadPool* pool, DType kv_dtype = DType::kF32,
                                       int64_t block_size = 16) {
  const ModelConfig& c = model.config();
  const int64_t capacity = static_cast<int64_t>(prompt.size()) + n_new;
  auto cached = NewCache(c, capacity, kv_dtype, block_size);
  auto scratch = NewCache(c, capacity, kv_dtype, block_size);
  ForwardState state(c, 16);  // chunks of 16: prefill crosses chunk boundaries too
  std::vector<float> cached_logits(c.vocab_size), recomputed_logits(c.vocab_size);

  std::vector<int32_t> sequence = prompt;
  const SequenceId seq = cached->AddSequence();
  ASSERT_TRUE(model.Forward(prompt, seq, *cached, state, cached_logits.data(), false, pool).ok());
  for (int step = 0; step < n_new; ++step) {
    const SequenceId fresh = scratch->AddSequence();
    ASSERT_TRUE(
        model.Forward(sequence, fresh, *scratch, state, recomputed_logits.data(), false, pool).ok());
    scratch->RemoveSequence(fresh);
    ASSERT_EQ(0, std::memcmp(cached_logits.data(), recomputed_logits.data(),
                             sizeof(float) * c.vocab_size))
        << "logits differ at step " << step << " (sequence length " << sequence.size() << ")";
    const int32_t next = ArgMax(cached_logits.data(), c.vocab_size);
    ASSERT_EQ(next, ArgMax(recomputed_logits.data(), c.vocab_size));
    sequence.push_back(next);
    if (step + 1 < n_new) {
      ASSERT_TRUE(model.Forward({&next, 1}, seq, *cached, state, cached_logits.data(), false, pool).ok());
    }
  }
}

}  // namespace kvik::testing
