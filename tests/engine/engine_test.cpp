#include "kvik/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "model/cache_equivalence.h"
#include "testing/fixtures.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

class EngineTest : public testing::TinyModelTest {
 protected:
  static GenerationRequest Greedy(const std::vector<int32_t>& prompt, int n) {
    GenerationRequest r;
    r.prompt = prompt;
    r.max_new_tokens = n;
    r.sampling.temperature = 0;
    r.stop_at_eos = false;
    return r;
  }
  static std::vector<int32_t> Alone(const std::vector<int32_t>& prompt, int n, ThreadPool* pool,
                                    SamplerOptions sampling = {0, 40, 0.95f, 0.05f, 42}) {
    GenerateOptions options;
    options.max_new_tokens = n;
    options.sampling = sampling;
    options.stop_at_eos = false;
    return Generate(*model_, prompt, options, pool).value().tokens;
  }
};

// Collects each request's events.
struct Collector {
  std::mutex mutex;
  std::map<RequestId, std::vector<int32_t>> tokens;
  std::map<RequestId, TokenEvent> final_event;
  EventCallback callback() {
    return [this](const TokenEvent& e) {
      std::lock_guard<std::mutex> lock(mutex);
      if (e.done) final_event[e.id] = e;
      else tokens[e.id].push_back(e.token);
    };
  }
};

void RunUntilIdle(Engine& engine) {
  while (engine.Step()) {
  }
}

TEST_F(EngineTest, SixteenConcurrentRequestsEachGetTheirAloneOutput) {
  ThreadPool pool(2);
  EngineOptions options;
  options.parallel = 16;
  options.context_tokens = 128;
  options.max_batch_tokens = 64;  // prompts are prefilled in chunks next to decodes
  auto engine = Engine::Create(*model_, options, &pool).value();
  Collector collected;
  const auto prompts = testing::RandomPrompts(16, model_->config().vocab_size, 41);
  std::vector<RequestId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest r = Greedy(prompts[i], 20 + static_cast<int>(i));
    if (i % 2) r.sampling = {0.9f, 40, 0.95f, 0.05f, 7 + i};  // seeded sampling, too
    ids.push_back(engine->Submit(r, collected.callback()).value());
  }
  RunUntilIdle(*engine);
  EXPECT_GT(engine->stats().last_batch_sequences, 0);
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplerOptions sampling{0, 40, 0.95f, 0.05f, 42};
    if (i % 2) sampling = {0.9f, 40, 0.95f, 0.05f, 7 + i};
    EXPECT_EQ(collected.tokens[ids[i]], Alone(prompts[i], 20 + static_cast<int>(i), &pool, sampling))
        << "request " << i;
    EXPECT_EQ(collected.final_event[ids[i]].completion_tokens, 20 + static_cast<int>(i));
    EXPECT_EQ(collected.final_event[ids[i]].finish_reason, FinishReason::kLength);
  }
  EXPECT_EQ(engine->stats().kv.blocks_used, 0);
}

TEST_F(EngineTest, PreemptionUnderATinyKvBudgetStillCompletesEveryRequestCorrectly) {
  ThreadPool pool(2);
  EngineOptions options;
  options.parallel = 8;
  options.context_tokens = 128;
  options.block_size = 4;
  // 24 blocks of 4 tokens: far less than 8 sequences × ~60 tokens.
  options.kv_budget_bytes = 24 * 4 * model_->config().kv_shape(DType::kF32).bytes_per_token();
  auto engine = Engine::Create(*model_, options, &pool).value();
  Collector collected;
  const auto prompts = testing::RandomPrompts(8, model_->config().vocab_size, 42);
  std::vector<RequestId> ids;
  for (const auto& p : prompts) ids.push_back(engine->Submit(Greedy(p, 40), collected.callback()).value());
  RunUntilIdle(*engine);
  EXPECT_GT(engine->stats().preemptions, 0u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(collected.tokens[ids[i]], Alone(prompts[i], 40, &pool)) << "request " << i;
    EXPECT_TRUE(collected.final_event[ids[i]].error.ok());
  }
  EXPECT_EQ(engine->stats().kv.blocks_used, 0);
}

TEST_F(EngineTest, SharedPrefixesAreCountedAsCachedPromptTokens) {
  EngineOptions options;
  options.parallel = 2;
  options.context_tokens = 256;
  auto engine = Engine::Create(*model_, options, nullptr).value();
  Collector collected;
  std::vector<int32_t> system(100, 0);
  for (size_t i = 0; i < system.size(); ++i) system[i] = 3 + static_cast<int32_t>(i);
  std::vector<int32_t> a = system, b = system;
  a.push_back(400);
  b.push_back(401);
  const RequestId first = engine->Submit(Greedy(a, 4), collected.callback()).value();
  RunUntilIdle(*engine);
  const RequestId second = engine->Submit(Greedy(b, 4), collected.callback()).value();
  RunUntilIdle(*engine);
  EXPECT_EQ(collected.final_event[first].cached_prompt_tokens, 0);
  EXPECT_EQ(collected.final_event[second].cached_prompt_tokens, 100);  // 6 blocks + 4 copied
  EXPECT_EQ(engine->stats().prompt_tokens_cached, 100u);
}

TEST_F(EngineTest, RequestsArrivingTogetherComputeTheirSharedPrefixOnce) {
  EngineOptions options;
  options.parallel = 4;
  options.context_tokens = 512;
  options.max_batch_tokens = 64;  // the prefix takes several steps to compute
  auto engine = Engine::Create(*model_, options, nullptr).value();
  Collector collected;
  std::vector<int32_t> system(200);
  for (size_t i = 0; i < system.size(); ++i) system[i] = 3 + static_cast<int32_t>(i);
  std::vector<RequestId> ids;
  for (int32_t q = 0; q < 4; ++q) {
    std::vector<int32_t> prompt = system;
    prompt.push_back(400 + q);
    ids.push_back(engine->Submit(Greedy(prompt, 3), collected.callback()).value());
  }
  RunUntilIdle(*engine);
  EXPECT_EQ(collected.final_event[ids[0]].cached_prompt_tokens, 0);
  for (int q = 1; q < 4; ++q) {
    // Every full block of the prefix (12 × 16); the last 8 tokens sit in the first request's
    // partly filled block, which is only indexed once that request ends.
    EXPECT_EQ(collected.final_event[ids[q]].cached_prompt_tokens, 192) << "request " << q;
    EXPECT_EQ(collected.tokens[ids[q]].size(), 3u);
  }
}

TEST_F(EngineTest, RefusesBadRequestsAndAFullQueue) {
  EngineOptions options;
  options.context_tokens = 32;
  options.max_queue = 2;
  auto engine = Engine::Create(*model_, options, nullptr).value();
  EXPECT_EQ(engine->Submit(Greedy({}, 4), nullptr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(Greedy(std::vector<int32_t>(33, 5), 4), nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(Greedy({1, 100000}, 4), nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(engine->Submit(Greedy({1, 2}, 4), nullptr).ok());
  EXPECT_TRUE(engine->Submit(Greedy({1, 2}, 4), nullptr).ok());
  EXPECT_EQ(engine->Submit(Greedy({1, 2}, 4), nullptr).status().code(),
            StatusCode::kResourceExhausted);
}

TEST_F(EngineTest, ARequestStopsAtTheContextWithFinishReasonLength) {
  EngineOptions options;
  options.context_tokens = 16;
  auto engine = Engine::Create(*model_, options, nullptr).value();
  Collector collected;
  const RequestId id = engine->Submit(Greedy({1, 5, 6, 7}, 100), collected.callback()).value();
  RunUntilIdle(*engine);
  EXPECT_EQ(collected.tokens[id].size(), 16u - 4 + 1);
  EXPECT_EQ(collected.final_event[id].finish_reason, FinishReason::kLength);
}

TEST_F(EngineTest, CancelEndsARunningRequestAndFreesItsBlocks) {
  ThreadPool pool(2);
  EngineOptions options;
  options.context_tokens = 512;
  auto engine = Engine::Create(*model_, options, &pool).value();
  std::promise<void> first_token;
  std::promise<TokenEvent> done;
  bool signalled = false;
  const RequestId id =
      engine
          ->Submit(Greedy({1, 2, 3}, 400),
                   [&](const TokenEvent& e) {
                     if (!e.done && !signalled) {
                       signalled = true;
                       first_token.set_value();
                     }
                     if (e.done) done.set_value(e);
                   })
          .value();
  engine->Start();
  first_token.get_future().wait();
  engine->Cancel(id);
  const TokenEvent last = done.get_future().get();
  EXPECT_TRUE(last.cancelled);
  EXPECT_LT(last.completion_tokens, 400);
  for (int i = 0; i < 100 && engine->stats().kv.blocks_used != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(engine->stats().kv.blocks_used, 0);
  engine->Stop();
  EXPECT_EQ(engine->Submit(Greedy({1, 2}, 4), nullptr).status().code(),
            StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace kvik
