// The full property: 50 prompts × 64 greedy tokens, cache = recompute bit for bit.
#include "model/cache_equivalence.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

TEST(CacheEquivalenceSlowTest, FiftyPromptsTimesSixtyFourTokensAreBitIdentical) {
  testing::TempDir dir;
  auto model = Model::Load(testing::WriteModel(dir, "tiny.gguf", testing::TinyPreset())).value();
  ThreadPool pool(2);
  for (const auto& prompt : testing::RandomPrompts(50, model->config().vocab_size, 2024)) {
    testing::ExpectCacheEqualsRecompute(*model, prompt, 64, &pool);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace kvik
