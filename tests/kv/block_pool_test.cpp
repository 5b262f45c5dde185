#include "kv/block_pool.h"

#include <gtest/gtest.h>

namespace kvik::kv {
namespace {

KvShape Shape() { return {2, 2, 32, DType::kF32, DType::kF16}; }

TEST(BlockPoolTest, AllocatesExactlyBlocksTimesBlockSizeTimesBytesPerToken) {
  auto pool = BlockPool::Create(Shape(), 16, 5).value();
  // 2 layers · 2 heads · (128 B key + 64 B value) = 768 B per token.
  EXPECT_EQ(pool->bytes_per_block(), 16u * 768u);
  EXPECT_EQ(pool->bytes_allocated(), 5u * 16u * 768u);
  EXPECT_EQ(pool->n_free(), 5);
}

TEST(BlockPoolTest, RunsOfOneLayerAndHeadDoNotOverlapAndFillTheBlock) {
  auto pool = BlockPool::Create(Shape(), 4, 1).value();
  uint64_t expected = 0;
  for (int64_t layer = 0; layer < 2; ++layer) {
    for (int64_t h = 0; h < 2; ++h) EXPECT_EQ(pool->key_offset(layer, h), expected + h * 4 * 128);
    expected += 2 * 4 * 128;
    for (int64_t h = 0; h < 2; ++h) EXPECT_EQ(pool->value_offset(layer, h), expected + h * 4 * 64);
    expected += 2 * 4 * 64;
  }
  EXPECT_EQ(expected, pool->bytes_per_block());
}

TEST(BlockPoolTest, ReleasedBlocksGoToFreeOrCachedAndCachedOnesAreEvictedOldestFirst) {
  auto pool = BlockPool::Create(Shape(), 16, 3).value();
  int32_t evicted;
  const int32_t a = pool->Allocate(&evicted), b = pool->Allocate(&evicted), c = pool->Allocate(&evicted);
  EXPECT_EQ(pool->Allocate(&evicted), BlockPool::kNoBlock);
  pool->Release(b, /*keep_cached=*/true);
  pool->Release(a, /*keep_cached=*/true);
  pool->Release(c, /*keep_cached=*/false);
  EXPECT_EQ(pool->n_free(), 1);
  EXPECT_EQ(pool->n_cached(), 2);
  EXPECT_TRUE(pool->CheckInvariants());
  EXPECT_EQ(pool->Allocate(&evicted), c);  // free blocks first
  EXPECT_EQ(evicted, BlockPool::kNoBlock);
  EXPECT_EQ(pool->Allocate(&evicted), b);  // then the least recently cached
  EXPECT_EQ(evicted, b);
  EXPECT_EQ(pool->evictions(), 1u);
  pool->Retain(a);  // a cached block handed out again leaves the LRU list
  EXPECT_EQ(pool->n_cached(), 0);
  EXPECT_EQ(pool->refcount(a), 1);
  EXPECT_TRUE(pool->CheckInvariants());
}

TEST(BlockPoolTest, RejectsAnEmptyBudgetAndUnsupportedTypes) {
  EXPECT_FALSE(BlockPool::Create(Shape(), 16, 0).ok());
  EXPECT_FALSE(BlockPool::Create(Shape(), 0, 4).ok());
  KvShape q8 = Shape();
  q8.key_dtype = DType::kQ8_0;
  q8.head_dim = 16;  // a Q8_0 block holds 32 values
  EXPECT_FALSE(BlockPool::Create(q8, 16, 4).ok());
  KvShape k_quant = Shape();
  k_quant.key_dtype = DType::kQ4_K;
  EXPECT_FALSE(BlockPool::Create(k_quant, 16, 4).ok());
}

}  // namespace
}  // namespace kvik::kv
