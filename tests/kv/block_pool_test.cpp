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

TEST(BlockPoolTest, RunsTileThePoolRunMajorWithoutOverlap) {
  // Every (block, layer, K|V, head) run, in address order, starts where the previous one ends and
  // the last ends at the pool's end; one head's runs of consecutive blocks are adjacent.
  const int64_t n_blocks = 3, block_size = 4;
  auto pool = BlockPool::Create(Shape(), block_size, n_blocks).value();
  const uint8_t* next = pool->data();
  for (int64_t layer = 0; layer < 2; ++layer) {
    for (int kv = 0; kv < 2; ++kv) {
      for (int64_t h = 0; h < 2; ++h) {
        for (int32_t block = 0; block < n_blocks; ++block) {
          const uint8_t* rows =
              kv == 0 ? pool->key_rows(block, layer, h) : pool->value_rows(block, layer, h);
          ASSERT_EQ(rows, next) << "layer " << layer << " kv " << kv << " head " << h << " block "
                                << block;
          next += block_size * (kv == 0 ? 128 : 64);
        }
      }
    }
  }
  EXPECT_EQ(next, pool->data() + pool->bytes_allocated());
}

TEST(BlockPoolTest, ReleasedBlocksGoToFreeOrCachedAndCachedOnesAreEvictedOldestFirst) {
  auto pool = BlockPool::Create(Shape(), 16, 3).value();
  int32_t evicted;
  const int32_t a = pool->Allocate(&evicted), b = pool->Allocate(&evicted),
                c = pool->Allocate(&evicted);
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
