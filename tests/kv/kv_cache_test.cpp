#include "kvik/kv_cache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kvik/quantize.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

constexpr int64_t kLayers = 2, kHeads = 2, kHeadDim = 32;

std::unique_ptr<KvCache> MakeCache(int64_t block_size, int64_t n_blocks, int64_t window = 0,
                                   DType dtype = DType::kF32) {
  KvCacheOptions options;
  options.shape = {kLayers, kHeads, kHeadDim, dtype, dtype};
  options.block_size = block_size;
  options.n_blocks = n_blocks;
  options.sliding_window = window;
  return KvCache::Create(options).value();
}

// The K (V = −K) a token would have: a function of its token id and position, so tests can tell
// rows apart and check them after moves.
float KeyValue(int32_t token, int64_t position, int64_t layer, int64_t i) {
  return static_cast<float>(token) + 0.001f * static_cast<float>(position) + 0.1f * layer + 0.0001f * i;
}

void Append(KvCache& cache, SequenceId seq, const std::vector<int32_t>& tokens) {
  ASSERT_TRUE(cache.Reserve(seq, static_cast<int64_t>(tokens.size())).ok());
  const int64_t start = cache.n_tokens(seq);
  std::vector<float> k(kHeads * kHeadDim), v(k.size());
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int64_t layer = 0; layer < kLayers; ++layer) {
      for (size_t i = 0; i < k.size(); ++i) {
        k[i] = KeyValue(tokens[t], start + t, layer, i);
        v[i] = -k[i];
      }
      cache.Store(seq, layer, start + t, k.data(), v.data());
    }
  }
  cache.Commit(seq, tokens);
}

float StoredKey(const KvCache& cache, SequenceId seq, int64_t layer, int64_t head, int64_t position,
                int64_t i) {
  const KvHeadView view = cache.HeadView(seq, layer, head);
  return reinterpret_cast<const float*>(view.keys.row(position))[i];
}

std::vector<int32_t> Range(int32_t first, int n) {
  std::vector<int32_t> out(n);
  for (int i = 0; i < n; ++i) out[i] = first + i;
  return out;
}

TEST(KvCacheTest, RowsReadBackAtTheirPositionAcrossBlocks) {
  auto cache = MakeCache(4, 8);
  const SequenceId seq = cache->AddSequence();
  Append(*cache, seq, Range(100, 11));
  for (int64_t p = 0; p < 11; ++p) {
    EXPECT_EQ(StoredKey(*cache, seq, 1, 1, p, 3), KeyValue(100 + p, p, 1, kHeadDim + 3));
  }
  EXPECT_EQ(cache->blocks_held(seq), 3);
  const KvCacheStats s = cache->stats();
  EXPECT_EQ(s.blocks_used, 3);
  EXPECT_EQ(s.bytes_holding_tokens, 11 * cache->shape().bytes_per_token());
}

TEST(KvCacheTest, SecondSequenceReusesFullBlocksAndCopiesThePartialRest) {
  auto cache = MakeCache(16, 16);
  // The first request: a 40-token shared prefix, then its own 8 tokens (three full blocks).
  std::vector<int32_t> first_tokens = Range(1, 40);
  for (int32_t t : Range(500, 8)) first_tokens.push_back(t);
  const SequenceId first = cache->AddSequence();
  Append(*cache, first, first_tokens);
  cache->RemoveSequence(first);  // its full blocks stay cached
  EXPECT_EQ(cache->stats().blocks_cached, 3);

  std::vector<int32_t> prompt = Range(1, 40);
  prompt.push_back(999);
  const SequenceId second = cache->AddSequence();
  const int64_t reused = cache->MatchPrefix(second, prompt, prompt.size() - 1).value();
  EXPECT_EQ(reused, 40);  // 32 by reference + the first 8 rows of the third block, copied
  EXPECT_EQ(cache->n_tokens(second), 40);
  EXPECT_EQ(StoredKey(*cache, second, 0, 0, 35, 0), KeyValue(36, 35, 0, 0));
  EXPECT_EQ(cache->stats().prefix_hit_tokens, 40u);
  EXPECT_TRUE(cache->CheckInvariants());
}

TEST(KvCacheTest, OnlyFullBlocksAreSharedAndOnlyTheirTokensMatch) {
  auto cache = MakeCache(16, 16);
  const SequenceId first = cache->AddSequence();
  Append(*cache, first, Range(1, 20));
  const SequenceId second = cache->AddSequence();
  std::vector<int32_t> prompt = Range(1, 16);
  prompt.push_back(555);  // diverges in the second block
  prompt.push_back(556);
  EXPECT_EQ(cache->MatchPrefix(second, prompt, prompt.size() - 1).value(), 16);
  EXPECT_EQ(cache->stats().blocks_used, 2);  // the first block is shared, not copied
  const SequenceId third = cache->AddSequence();
  const std::vector<int32_t> unrelated = {9, 9, 9};
  EXPECT_EQ(cache->MatchPrefix(third, unrelated, 2).value(), 0);
}

TEST(KvCacheTest, ForkedSequencesCopyTheSharedLastBlockBeforeWriting) {
  auto cache = MakeCache(8, 8);
  const SequenceId parent = cache->AddSequence();
  Append(*cache, parent, Range(10, 5));
  const SequenceId child = cache->Fork(parent).value();
  EXPECT_EQ(cache->stats().blocks_used, 1);
  Append(*cache, child, {77});
  Append(*cache, parent, {88});
  EXPECT_EQ(cache->stats().copy_on_write, 1u);
  EXPECT_EQ(StoredKey(*cache, child, 0, 0, 5, 0), KeyValue(77, 5, 0, 0));
  EXPECT_EQ(StoredKey(*cache, parent, 0, 0, 5, 0), KeyValue(88, 5, 0, 0));
  EXPECT_EQ(StoredKey(*cache, child, 0, 0, 4, 0), KeyValue(14, 4, 0, 0));
  EXPECT_TRUE(cache->CheckInvariants());
}

TEST(KvCacheTest, ReserveFailsCleanlyWhenThePoolIsFull) {
  auto cache = MakeCache(4, 2);
  const SequenceId seq = cache->AddSequence();
  Append(*cache, seq, Range(0, 8));
  const Status full = cache->Reserve(seq, 1);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(cache->n_tokens(seq), 8);
  EXPECT_TRUE(cache->CheckInvariants());
}

TEST(KvCacheTest, CachedBlocksAreEvictedWhenMemoryIsNeeded) {
  auto cache = MakeCache(4, 2);
  const SequenceId a = cache->AddSequence();
  Append(*cache, a, Range(0, 8));
  cache->RemoveSequence(a);
  EXPECT_EQ(cache->stats().blocks_cached, 2);
  const SequenceId b = cache->AddSequence();
  Append(*cache, b, Range(50, 8));
  EXPECT_EQ(cache->stats().evictions, 2u);
  const SequenceId c = cache->AddSequence();
  EXPECT_EQ(cache->MatchPrefix(c, Range(0, 8), 8).value(), 0);  // the old prefix is gone
  EXPECT_TRUE(cache->CheckInvariants());
}

TEST(KvCacheTest, SlidingWindowKeepsMemoryFlatOverTenThousandTokens) {
  const int64_t window = 64, block = 16;
  auto cache = MakeCache(block, window / block + 2, window);
  const SequenceId seq = cache->AddSequence();
  int64_t most_blocks = 0;
  for (int32_t t = 0; t < 10000; ++t) {
    Append(*cache, seq, {t % 500});
    most_blocks = std::max(most_blocks, cache->stats().blocks_used);
    const KvHeadView view = cache->HeadView(seq, 0, 0);
    const int64_t first = view.first_visible(t + 1);
    ASSERT_EQ(first, std::max<int64_t>(0, t + 1 - window + 1));
  }
  EXPECT_LE(most_blocks, window / block + 1);
  // The newest window is still readable.
  for (int64_t p = 10000 - window + 1; p < 10000; ++p) {
    EXPECT_EQ(StoredKey(*cache, seq, 0, 0, p, 0), KeyValue(p % 500, p, 0, 0));
  }
  EXPECT_TRUE(cache->CheckInvariants());
}

TEST(KvCacheTest, TruncateKeepsIndexedBlocksIntactForOtherSequences) {
  auto cache = MakeCache(4, 8);
  const SequenceId a = cache->AddSequence();
  Append(*cache, a, Range(1, 8));
  cache->Truncate(a, 6);
  Append(*cache, a, {70, 71});  // rewrites positions 6, 7 of a block the index holds
  EXPECT_EQ(StoredKey(*cache, a, 0, 0, 6, 0), KeyValue(70, 6, 0, 0));
  const SequenceId b = cache->AddSequence();
  EXPECT_EQ(cache->MatchPrefix(b, Range(1, 9), 8).value(), 8);
  EXPECT_EQ(StoredKey(*cache, b, 0, 0, 6, 0), KeyValue(7, 6, 0, 0));
  EXPECT_TRUE(cache->CheckInvariants());
}

void AddDelta(float* keys, int64_t n_heads, int64_t head_dim, int64_t delta, const void*) {
  for (int64_t i = 0; i < n_heads * head_dim; ++i) keys[i] += 0.001f * static_cast<float>(delta);
}

TEST(KvCacheTest, ShiftDropsTheMiddleAndReRotatesTheMovedKeys) {
  auto cache = MakeCache(4, 8);
  const SequenceId seq = cache->AddSequence();
  Append(*cache, seq, Range(100, 12));
  ASSERT_TRUE(cache->Shift(seq, 2, 5, AddDelta, nullptr).ok());
  EXPECT_EQ(cache->n_tokens(seq), 7);
  EXPECT_EQ(cache->tokens(seq)[2], 107);
  EXPECT_EQ(StoredKey(*cache, seq, 0, 0, 1, 0), KeyValue(101, 1, 0, 0));
  // Token 107 was at position 7; moved to 2, its key reads as if written there.
  EXPECT_FLOAT_EQ(StoredKey(*cache, seq, 0, 0, 2, 0), KeyValue(107, 2, 0, 0));
  const KvHeadView view = cache->HeadView(seq, 0, 0);
  EXPECT_EQ(reinterpret_cast<const float*>(view.values.row(2))[0], -KeyValue(107, 7, 0, 0));
  EXPECT_EQ(cache->blocks_held(seq), 2);
  EXPECT_FALSE(cache->Shift(seq, 5, 5, AddDelta, nullptr).ok());
  EXPECT_TRUE(cache->CheckInvariants());
}

TEST(KvCacheTest, SaveThenLoadRestoresTokensAndRowsAndRejectsBadFiles) {
  testing::TempDir dir;
  auto cache = MakeCache(4, 16, 0, DType::kQ8_0);
  const SequenceId seq = cache->AddSequence();
  Append(*cache, seq, Range(5, 10));
  const std::string path = dir.File("prompt.kv");
  ASSERT_TRUE(cache->Save(seq, path, 42).ok());
  const SequenceId loaded = cache->Load(path, 42).value();
  ASSERT_EQ(cache->n_tokens(loaded), 10);
  for (int64_t p = 0; p < 10; ++p) {
    const KvHeadView a = cache->HeadView(seq, 1, 1), b = cache->HeadView(loaded, 1, 1);
    EXPECT_EQ(0, std::memcmp(a.keys.row(p), b.keys.row(p), a.keys.row_bytes));
    EXPECT_EQ(0, std::memcmp(a.values.row(p), b.values.row(p), a.values.row_bytes));
  }
  EXPECT_FALSE(cache->Load(path, 43).ok());  // another model
  EXPECT_FALSE(MakeCache(4, 16)->Load(path, 42).ok());  // another KV type

  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string flipped_path = dir.File("flipped.kv"), short_path = dir.File("short.kv");
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  std::ofstream(flipped_path, std::ios::binary) << flipped;
  std::ofstream(short_path, std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  EXPECT_EQ(cache->Load(flipped_path, 42).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(cache->Load(short_path, 42).status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(cache->Load(dir.File("missing.kv"), 42).ok());
  EXPECT_TRUE(cache->CheckInvariants());
}

// Random admit / prefix-match / append / fork / truncate / shift / free: after every step each
// block is free, cached or owned (refcount = owners), and when every sequence ends nothing is owned.
TEST(KvCacheTest, RefcountsBalanceUnderRandomOperations) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const int64_t block = 1 + rng() % 8;
    auto cache = MakeCache(block, 24);
    std::vector<SequenceId> live;
    // Prompts come from a few shared stems so prefixes really repeat.
    auto prompt = [&] {
      std::vector<int32_t> p = Range(static_cast<int32_t>(rng() % 3) * 100, 1 + rng() % 20);
      for (int i = rng() % 4; i > 0; --i) p.push_back(1000 + rng() % 5);
      return p;
    };
    for (int step = 0; step < 300; ++step) {
      const int op = rng() % 6;
      if (op == 0 || live.empty()) {
        const SequenceId seq = cache->AddSequence();
        const auto p = prompt();
        const int64_t reused = cache->MatchPrefix(seq, p, p.size() - 1).value();
        const std::vector<int32_t> rest(p.begin() + reused, p.end());
        if (cache->blocks_needed(seq, rest.size()) <= cache->blocks_available()) {
          Append(*cache, seq, rest);
        }
        live.push_back(seq);
      } else {
        const size_t pick = rng() % live.size();
        const SequenceId seq = live[pick];
        if (op == 1 && cache->blocks_needed(seq, 3) <= cache->blocks_available()) {
          Append(*cache, seq, {int32_t(rng() % 7), int32_t(rng() % 7), int32_t(rng() % 7)});
        } else if (op == 2 && cache->blocks_available() > 0) {
          live.push_back(cache->Fork(seq).value());
        } else if (op == 3) {
          cache->Truncate(seq, rng() % (cache->n_tokens(seq) + 1));
        } else if (op == 4 && cache->n_tokens(seq) >= 4) {
          (void)cache->Shift(seq, 1, 2, AddDelta, nullptr);
        } else if (op == 5) {
          cache->RemoveSequence(seq);
          live.erase(live.begin() + pick);
        }
      }
      ASSERT_TRUE(cache->CheckInvariants()) << "seed " << seed << " step " << step;
    }
    for (SequenceId seq : live) cache->RemoveSequence(seq);
    const KvCacheStats s = cache->stats();
    EXPECT_EQ(s.blocks_used, 0) << "seed " << seed;
    EXPECT_EQ(s.blocks_cached + s.blocks_free, s.blocks_total);
    ASSERT_TRUE(cache->CheckInvariants());
  }
}

}  // namespace
}  // namespace kvik
