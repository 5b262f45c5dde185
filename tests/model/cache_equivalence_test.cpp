#include "model/cache_equivalence.h"

#include "testing/fixtures.h"

namespace kvik {
namespace {

using testing::ExpectCacheEqualsRecompute;
using testing::RandomPrompts;

class CacheEquivalenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    model_ = Model::Load(testing::WriteModel(*dir_, "tiny.gguf", testing::TinyPreset())).value().release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete dir_;
  }
  static testing::TempDir* dir_;
  static Model* model_;
};
testing::TempDir* CacheEquivalenceTest::dir_ = nullptr;
Model* CacheEquivalenceTest::model_ = nullptr;

TEST_F(CacheEquivalenceTest, CachedDecodeEqualsRecomputeBitForBitOnOneThread) {
  ThreadPool pool(1);
  for (const auto& prompt : RandomPrompts(5, model_->config().vocab_size, 7)) {
    ExpectCacheEqualsRecompute(*model_, prompt, 32, &pool);
  }
}

TEST_F(CacheEquivalenceTest, CachedDecodeEqualsRecomputeBitForBitOnTwoThreads) {
  ThreadPool pool(2);
  for (const auto& prompt : RandomPrompts(5, model_->config().vocab_size, 8)) {
    ExpectCacheEqualsRecompute(*model_, prompt, 32, &pool);
  }
}

TEST_F(CacheEquivalenceTest, CachedDecodeEqualsRecomputeWithF16Cache) {
  ThreadPool pool(2);
  for (const auto& prompt : RandomPrompts(3, model_->config().vocab_size, 9)) {
    ExpectCacheEqualsRecompute(*model_, prompt, 24, &pool, DType::kF16);
  }
}

TEST_F(CacheEquivalenceTest, LogitsDoNotDependOnThreadCount) {
  const auto prompt = RandomPrompts(1, model_->config().vocab_size, 10)[0];
  const ModelConfig& c = model_->config();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    auto cache = DenseKvCache::Create(c.kv_shape(DType::kF32), 64).value();
    ForwardState state(c, 64, 64);
    std::vector<float> logits(prompt.size() * c.vocab_size);
    ASSERT_TRUE(model_->Forward(prompt, cache, state, logits.data(), true, &pool).ok());
    results.push_back(logits);
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// The seed's flagship check: after "Yesterday I" is decoded with the cache and the next token is
// generated, the K and V stored for "I" equal, byte for byte, those a full recompute of the whole
// sequence stores.
TEST_F(CacheEquivalenceTest, KeyValueSlotOfATokenMatchesFullRecompute) {
  const ModelConfig& c = model_->config();
  const std::vector<int32_t> yesterday_i = {1, 300, 301, 302, 259};  // "<s> ▁yes ter day ▁I"-like
  const int64_t slot = 4;                                            // position of "I"
  auto cached = DenseKvCache::Create(c.kv_shape(DType::kF32), 8).value();
  ForwardState state(c, 8, 8);
  std::vector<float> logits(c.vocab_size);
  ASSERT_TRUE(model_->Forward(yesterday_i, cached, state, logits.data(), false, nullptr).ok());
  const int32_t worked = ArgMax(logits.data(), c.vocab_size);
  ASSERT_TRUE(model_->Forward({&worked, 1}, cached, state, logits.data(), false, nullptr).ok());

  std::vector<int32_t> full = yesterday_i;
  full.push_back(worked);
  auto recomputed = DenseKvCache::Create(c.kv_shape(DType::kF32), 8).value();
  ASSERT_TRUE(model_->Forward(full, recomputed, state, logits.data(), false, nullptr).ok());

  const uint64_t row = c.kv_shape(DType::kF32).head_row_bytes();
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    for (int64_t h = 0; h < c.n_kv_heads; ++h) {
      EXPECT_EQ(0, std::memcmp(cached.keys(layer, h) + slot * row, recomputed.keys(layer, h) + slot * row, row))
          << "K differs at layer " << layer << " head " << h;
      EXPECT_EQ(0, std::memcmp(cached.values(layer, h) + slot * row, recomputed.values(layer, h) + slot * row, row))
          << "V differs at layer " << layer << " head " << h;
    }
  }
}

}  // namespace
}  // namespace kvik
