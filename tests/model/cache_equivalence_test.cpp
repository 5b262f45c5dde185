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
    auto cache = testing::NewCache(c, 64);
    ForwardState state(c, 64);
    std::vector<float> logits(prompt.size() * c.vocab_size);
    const SequenceId seq = cache->AddSequence();
    ASSERT_TRUE(model_->Forward(prompt, seq, *cache, state, logits.data(), true, &pool).ok());
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
  auto cached = testing::NewCache(c, 8);
  ForwardState state(c, 8);
  std::vector<float> logits(c.vocab_size);
  const SequenceId seq = cached->AddSequence();
  ASSERT_TRUE(model_->Forward(yesterday_i, seq, *cached, state, logits.data(), false, nullptr).ok());
  const int32_t worked = ArgMax(logits.data(), c.vocab_size);
  ASSERT_TRUE(model_->Forward({&worked, 1}, seq, *cached, state, logits.data(), false, nullptr).ok());

  std::vector<int32_t> full = yesterday_i;
  full.push_back(worked);
  auto recomputed = testing::NewCache(c, 8);
  const SequenceId fresh = recomputed->AddSequence();
  ASSERT_TRUE(model_->Forward(full, fresh, *recomputed, state, logits.data(), false, nullptr).ok());

  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    for (int64_t h = 0; h < c.n_kv_heads; ++h) {
      const KvHeadView a = cached->HeadView(seq, layer, h);
      const KvHeadView b = recomputed->HeadView(fresh, layer, h);
      EXPECT_EQ(0, std::memcmp(a.keys.row(slot), b.keys.row(slot), a.keys.row_bytes))
          << "K differs at layer " << layer << " head " << h;
      EXPECT_EQ(0, std::memcmp(a.values.row(slot), b.values.row(slot), a.values.row_bytes))
          << "V differs at layer " << layer << " head " << h;
    }
  }
}

}  // namespace
}  // namespace kvik
