// The Redis result store against a real redis-server started on loopback for this suite.
#include <gtest/gtest.h>

#include "kvik/lsh_cache.h"
#include "redis_server.h"

namespace kvik::lsh {
namespace {

using namespace std::chrono_literals;

class RedisStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new testing::RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(server_->error(), "") << "the Redis backend tests need a redis-server";
    // A fresh namespace per test keeps tests independent on the shared server.
    auto store = MakeRedisStore(
        {.address = server_->address(),
         .key_namespace =
             "test:" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ":"});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  std::optional<std::string> Get(const std::string& key) {
    auto value = store_->Get(key);
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    return value.ok() ? *value : std::nullopt;
  }
  static testing::RedisServer* server_;
  std::unique_ptr<ResultStore> store_;
};

testing::RedisServer* RedisStoreTest::server_ = nullptr;

TEST_F(RedisStoreTest, StoresAndReturnsBinaryResults) {
  std::string value("bytes\0with\nnul", 14);
  ASSERT_TRUE(store_->Put("nike running shoe", value).ok());
  EXPECT_EQ(Get("nike running shoe"), value);
  EXPECT_EQ(Get("missing"), std::nullopt);
}

TEST_F(RedisStoreTest, TwoFrontEndsShareOneCache) {
  auto other = MakeRedisStore(
      {.address = server_->address(), .key_namespace = "test:TwoFrontEndsShareOneCache:"});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(store_->Put("k", "shared").ok());
  auto value = (*other)->Get("k");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, "shared");
}

TEST_F(RedisStoreTest, EntriesExpireAfterTheirTtl) {
  ASSERT_TRUE(store_->Put("short", "v", 300ms).ok());
  EXPECT_EQ(Get("short"), "v");
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(Get("short"), std::nullopt);
}

TEST_F(RedisStoreTest, ErasesByKey) {
  ASSERT_TRUE(store_->Put("k", "v").ok());
  EXPECT_TRUE(*store_->Erase("k"));
  EXPECT_FALSE(*store_->Erase("k"));
}

TEST_F(RedisStoreTest, ErasesByPrefixLiterallyEvenWithGlobCharacters) {
  for (const char* key :
       {"nike shoe", "nike sock", "nikes", "adidas shoe", "n*ke", "n*ke x", "nyke"}) {
    ASSERT_TRUE(store_->Put(key, "r").ok());
  }
  EXPECT_EQ(*store_->EraseByPrefix("nike"), 3u);
  EXPECT_EQ(*store_->EraseByPrefix("n*"), 2u);  // "n*ke", "n*ke x" — not "nyke"
  EXPECT_TRUE(Get("adidas shoe").has_value());
  EXPECT_TRUE(Get("nyke").has_value());
}

TEST_F(RedisStoreTest, BadAddressesAreRejectedWithTheReason) {
  EXPECT_EQ(MakeRedisStore({.address = "nohostport"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeRedisStore({.address = "127.0.0.1:99999"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RedisStore, UnreachableServerIsAnIoError) {
  auto store = MakeRedisStore({.address = "127.0.0.1:1", .connect_timeout = 200ms});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_NE(store.status().message().find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace kvik::lsh
