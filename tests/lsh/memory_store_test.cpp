#include <gtest/gtest.h>

#include <thread>

#include "kvik/lsh_cache.h"

namespace kvik::lsh {
namespace {

using namespace std::chrono_literals;

class MemoryStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ResultStore> Make(uint64_t capacity, std::chrono::milliseconds ttl = 0ms) {
    return MakeMemoryStore(
        {.capacity_bytes = capacity, .default_ttl = ttl, .now = [this] { return now_; }});
  }
  std::optional<std::string> Get(ResultStore& store, const std::string& key) {
    auto value = store.Get(key);
    EXPECT_TRUE(value.ok());
    return *value;
  }
  std::chrono::steady_clock::time_point now_{};
};

TEST_F(MemoryStoreTest, StoresAndReturnsResults) {
  auto store = Make(1 << 20);
  ASSERT_TRUE(store->Put("nike running shoe", "[products]").ok());
  EXPECT_EQ(Get(*store, "nike running shoe"), "[products]");
  EXPECT_EQ(Get(*store, "adidas shoe"), std::nullopt);
}

TEST_F(MemoryStoreTest, PutReplacesTheValueAndItsBytes) {
  auto store = Make(1 << 20);
  ASSERT_TRUE(store->Put("k", "long value").ok());
  ASSERT_TRUE(store->Put("k", "v").ok());
  EXPECT_EQ(Get(*store, "k"), "v");
  EXPECT_EQ(store->Stats().bytes, 2u);
  EXPECT_EQ(store->Stats().entries, 1u);
}

TEST_F(MemoryStoreTest, EvictsLeastRecentlyUsedWhenOverByteCapacity) {
  auto store = Make(30);  // three 10-byte entries
  ASSERT_TRUE(store->Put("a", "123456789").ok());
  ASSERT_TRUE(store->Put("b", "123456789").ok());
  ASSERT_TRUE(store->Put("c", "123456789").ok());
  Get(*store, "a");  // a is now more recent than b
  ASSERT_TRUE(store->Put("d", "123456789").ok());
  EXPECT_EQ(Get(*store, "b"), std::nullopt);
  EXPECT_TRUE(Get(*store, "a").has_value());
  EXPECT_TRUE(Get(*store, "c").has_value());
  EXPECT_TRUE(Get(*store, "d").has_value());
  EXPECT_EQ(store->Stats().evictions, 1u);
  EXPECT_LE(store->Stats().bytes, 30u);
}

TEST_F(MemoryStoreTest, RejectsAValueLargerThanTheWholeCache) {
  auto store = Make(8);
  EXPECT_EQ(store->Put("key", "far too long").code(), StatusCode::kResourceExhausted);
}

TEST_F(MemoryStoreTest, EntriesExpireAfterTheirTtl) {
  auto store = Make(1 << 20, 1000ms);
  ASSERT_TRUE(store->Put("default ttl", "x").ok());
  ASSERT_TRUE(store->Put("short ttl", "y", 10ms).ok());
  now_ += 11ms;
  EXPECT_EQ(Get(*store, "short ttl"), std::nullopt);
  EXPECT_EQ(Get(*store, "default ttl"), "x");
  now_ += 1000ms;
  EXPECT_EQ(Get(*store, "default ttl"), std::nullopt);
  EXPECT_EQ(store->Stats().expirations, 2u);
  EXPECT_EQ(store->Stats().entries, 0u);
}

TEST_F(MemoryStoreTest, ErasesByKey) {
  auto store = Make(1 << 20);
  ASSERT_TRUE(store->Put("k", "v").ok());
  EXPECT_TRUE(*store->Erase("k"));
  EXPECT_FALSE(*store->Erase("k"));
  EXPECT_EQ(Get(*store, "k"), std::nullopt);
}

TEST_F(MemoryStoreTest, ErasesEveryKeyWithAPrefixAndNothingElse) {
  auto store = Make(1 << 20);
  for (const char* key : {"nike shoe", "nike sock", "nike", "nikes", "adidas shoe", "nik"}) {
    ASSERT_TRUE(store->Put(key, "r").ok());
  }
  auto erased = store->EraseByPrefix("nike");
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(*erased, 4u);  // nike shoe, nike sock, nike, nikes
  EXPECT_TRUE(Get(*store, "adidas shoe").has_value());
  EXPECT_TRUE(Get(*store, "nik").has_value());
  EXPECT_EQ(store->Stats().entries, 2u);
}

TEST_F(MemoryStoreTest, EmptyPrefixClearsEverything) {
  auto store = Make(1 << 20);
  ASSERT_TRUE(store->Put("a", "1").ok());
  ASSERT_TRUE(store->Put("b", "2").ok());
  EXPECT_EQ(*store->EraseByPrefix(""), 2u);
  EXPECT_EQ(store->Stats().bytes, 0u);
}

TEST(MemoryStore, ConcurrentPutsAndGetsKeepTheByteAccountExact) {
  auto store = MakeMemoryStore({.capacity_bytes = 4096, .default_ttl = {}, .now = {}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = std::string("k").append(std::to_string((i * 7 + t) % 300));
        if (i % 3 == 0) {
          (void)store->Put(key, std::string(i % 50, 'x'));
        } else if (i % 3 == 1) {
          (void)store->Get(key);
        } else {
          (void)store->EraseByPrefix(key);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto stats = store->Stats();
  EXPECT_LE(stats.bytes, 4096u);
  // Recount by clearing: every byte accounted for comes back out.
  EXPECT_EQ(*store->EraseByPrefix(""), stats.entries);
  EXPECT_EQ(store->Stats().bytes, 0u);
}

}  // namespace
}  // namespace kvik::lsh
