// Test inputs for attention: a one-layer, one-KV-head cache holding `n` random tokens' K/V, and
// random query rows.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "kvik/kv_cache.h"

namespace kvik::testing {

struct FilledCache {
  std::unique_ptr<KvCache> cache;
  SequenceId seq = 0;
  KvHeadView view() const { return cache->HeadView(seq, 0, 0); }
};

// Keys are N(0, 2²), values N(0, 1), in blocks of `block_size` tokens stored as `dtype`.
inline FilledCache FillCache(int64_t n, int64_t head_dim, int64_t block_size, DType dtype,
                             uint32_t seed) {
  KvCacheOptions options;
  options.shape = {1, 1, head_dim, dtype, dtype};
  options.block_size = block_size;
  options.n_blocks = KvCacheOptions::BlocksFor(n, 1, block_size);
  FilledCache f{KvCache::Create(options).value(), 0};
  f.seq = f.cache->AddSequence();
  EXPECT_TRUE(f.cache->Reserve(f.seq, n).ok());
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> k(head_dim), v(head_dim);
  for (int64_t p = 0; p < n; ++p) {
    for (auto& x : k) x = 2.0f * normal(rng);
    for (auto& x : v) x = normal(rng);
    f.cache->Store(f.seq, 0, p, k.data(), v.data());
  }
  f.cache->Commit(f.seq, std::vector<int32_t>(n, 7));
  return f;
}

// n_heads query rows of head_dim N(0, 1) values.
inline std::vector<float> RandomQueries(int64_t n_heads, int64_t head_dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> q(n_heads * head_dim);
  for (auto& x : q) x = normal(rng);
  return q;
}

}  // namespace kvik::testing
