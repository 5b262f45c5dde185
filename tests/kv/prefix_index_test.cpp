#include "kv/prefix_index.h"

#include <gtest/gtest.h>

#include <vector>

namespace kvik::kv {
namespace {

TEST(PrefixIndexTest, FindsABlockByParentAndTokensOnly) {
  PrefixIndex index(8, 4, DType::kF32, DType::kF32);
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  const uint64_t hash = PrefixIndex::BlockHash(index.root(), tokens);
  EXPECT_TRUE(index.Insert(5, hash, index.root(), tokens));
  EXPECT_EQ(index.Find(hash, index.root(), tokens), 5);
  const std::vector<int32_t> other = {1, 2, 3, 5};
  EXPECT_EQ(index.Find(PrefixIndex::BlockHash(index.root(), other), index.root(), other),
            PrefixIndex::kNoBlock);
  // The same tokens after another parent are another prefix.
  EXPECT_NE(PrefixIndex::BlockHash(hash, tokens), hash);
  EXPECT_FALSE(index.Insert(6, hash, index.root(), tokens));  // already indexed
  index.Erase(5);
  EXPECT_EQ(index.Find(hash, index.root(), tokens), PrefixIndex::kNoBlock);
  EXPECT_EQ(index.size(), 0);
}

TEST(PrefixIndexTest, RootDependsOnKvTypesAndBlockSize) {
  EXPECT_NE(PrefixIndex(1, 4, DType::kF32, DType::kF32).root(),
            PrefixIndex(1, 4, DType::kF16, DType::kF32).root());
  EXPECT_NE(PrefixIndex(1, 4, DType::kF32, DType::kF32).root(),
            PrefixIndex(1, 8, DType::kF32, DType::kF32).root());
}

TEST(PrefixIndexTest, LongestChildMatchesAPartialBlock) {
  PrefixIndex index(8, 4, DType::kF32, DType::kF32);
  const std::vector<int32_t> a = {7, 8, 9, 10}, b = {7, 8, 1, 1};
  index.Insert(1, PrefixIndex::BlockHash(index.root(), a), index.root(), a);
  index.Insert(2, PrefixIndex::BlockHash(index.root(), b), index.root(), b);
  int64_t matched = 0;
  const std::vector<int32_t> query = {7, 8, 9};
  EXPECT_EQ(index.LongestChild(index.root(), query, &matched), 1);
  EXPECT_EQ(matched, 3);
  const std::vector<int32_t> miss = {3};
  EXPECT_EQ(index.LongestChild(index.root(), miss, &matched), PrefixIndex::kNoBlock);
  EXPECT_EQ(matched, 0);
}

}  // namespace
}  // namespace kvik::kv
