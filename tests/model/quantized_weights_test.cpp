// Quantized weights against their F32 source: the same seeded tiny model written as Q8_0 / Q4_0.
// Asserted: Q8_0 changes perplexity on a fixed token stream by < 1%. Reported, not asserted: how many
// of 20 prompts keep the F32 model's first 8 (and 20) greedy tokens — the random tiny model's logits
// are nearly flat (perplexity ~53 over 512 tokens), so weight rounding flips near-ties; Q8_0's bar
// is asserted on the trained stories15M instead (tests/engine/stories15m_forward_slow_test.cpp).
// Q4_0 misses it on both models in llama.cpp too, with the same text as kvik's Q4_0
// (bench/quantized_quality.sh, docs/performance.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kvik/model.h"
#include "kvik/tensor.h"
#include "model/cache_equivalence.h"
#include "testing/fixtures.h"

namespace kvik {
namespace {

std::vector<int32_t> Greedy(const Model& model, const std::vector<int32_t>& prompt, int n) {
  const ModelConfig& c = model.config();
  auto cache = testing::NewCache(c, prompt.size() + n);
  ForwardState state(c, 64);
  std::vector<float> logits(c.vocab_size);
  const SequenceId seq = cache->AddSequence();
  EXPECT_TRUE(model.Forward(prompt, seq, *cache, state, logits.data(), false, nullptr).ok());
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(ArgMax(logits.data(), c.vocab_size));
    if (i + 1 < n) {
      EXPECT_TRUE(model.Forward({&out.back(), 1}, seq, *cache, state, logits.data(), false, nullptr).ok());
    }
  }
  return out;
}

double Perplexity(const Model& model, const std::vector<int32_t>& stream) {
  const ModelConfig& c = model.config();
  auto cache = testing::NewCache(c, stream.size());
  ForwardState state(c, 128);
  std::vector<float> logits(stream.size() * c.vocab_size);
  EXPECT_TRUE(model.Forward(stream, cache->AddSequence(), *cache, state, logits.data(), true, nullptr).ok());
  double nll = 0;
  for (size_t p = 0; p + 1 < stream.size(); ++p) {
    const float* row = logits.data() + p * c.vocab_size;
    double max = row[0], sum = 0;
    for (int64_t i = 1; i < c.vocab_size; ++i) max = std::max<double>(max, row[i]);
    for (int64_t i = 0; i < c.vocab_size; ++i) sum += std::exp(row[i] - max);
    nll += std::log(sum) + max - row[stream[p + 1]];
  }
  return std::exp(nll / (stream.size() - 1));
}

TEST(QuantizedWeightsTest, GreedyAgreementWithTheF32SourceIsReported) {
  testing::TempDir dir;
  const auto preset = testing::TinyPreset();
  auto f32 = Model::Load(testing::WriteModel(dir, "f32.gguf", preset, DType::kF32)).value();
  auto q8 = Model::Load(testing::WriteModel(dir, "q8.gguf", preset, DType::kQ8_0)).value();
  auto q4 = Model::Load(testing::WriteModel(dir, "q4.gguf", preset, DType::kQ4_0)).value();
  int q8_full = 0, q4_full = 0, q8_first8 = 0, q4_first8 = 0;
  for (const auto& prompt : testing::RandomPrompts(20, f32->config().vocab_size, 51)) {
    const auto reference = Greedy(*f32, prompt, 20);
    const auto a = Greedy(*q8, prompt, 20), b = Greedy(*q4, prompt, 20);
    q8_first8 += std::equal(reference.begin(), reference.begin() + 8, a.begin());
    q4_first8 += std::equal(reference.begin(), reference.begin() + 8, b.begin());
    q8_full += a == reference;
    q4_full += b == reference;
  }
  std::printf("greedy tokens equal to F32 (of 20 prompts): first 8 — q8_0 %d, q4_0 %d; all 20 — "
              "q8_0 %d, q4_0 %d\n", q8_first8, q4_first8, q8_full, q4_full);
  EXPECT_GT(q8_first8, 0);  // a sanity floor: the quantized model is the same model
}

TEST(QuantizedWeightsTest, Q8PerplexityOnAFixedStreamIsWithinOnePercentOfF32) {
  testing::TempDir dir;
  const auto preset = testing::TinyPreset();
  auto f32 = Model::Load(testing::WriteModel(dir, "f32.gguf", preset, DType::kF32)).value();
  auto q8 = Model::Load(testing::WriteModel(dir, "q8.gguf", preset, DType::kQ8_0)).value();
  auto q4 = Model::Load(testing::WriteModel(dir, "q4.gguf", preset, DType::kQ4_0)).value();
  // The stream: the F32 model's own greedy continuation of a prompt, so it is text the model finds
  // plausible rather than noise.
  std::vector<int32_t> stream = testing::RandomPrompts(1, f32->config().vocab_size, 52)[0];
  const auto continuation = Greedy(*f32, stream, 200);
  stream.insert(stream.end(), continuation.begin(), continuation.end());
  const double p32 = Perplexity(*f32, stream), p8 = Perplexity(*q8, stream),
               p4 = Perplexity(*q4, stream);
  std::printf("perplexity over %zu tokens: f32 %.4f, q8_0 %.4f (%+.3f%%), q4_0 %.4f (%+.3f%%)\n",
              stream.size(), p32, p8, 100 * (p8 / p32 - 1), p4, 100 * (p4 / p32 - 1));
  EXPECT_LT(std::fabs(p8 / p32 - 1), 0.01);
}

}  // namespace
}  // namespace kvik
