#include "kvik/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace kvik {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 3.0f, 0.0f};

TEST(SamplerTest, ZeroTemperatureIsArgmaxWithLowestIdOnTies) {
  Sampler sampler({.temperature = 0});
  EXPECT_EQ(sampler.Sample(kLogits.data(), kLogits.size()), 1);
}

TEST(SamplerTest, SameSeedGivesSameSequence) {
  Sampler a({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0, .seed = 7});
  Sampler b({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0, .seed = 7});
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.Sample(kLogits.data(), 6), b.Sample(kLogits.data(), 6));
}

TEST(SamplerTest, TopKOneAlwaysPicksTheBestToken) {
  Sampler sampler({.temperature = 5.0f, .top_k = 1, .top_p = 1.0f, .min_p = 0, .seed = 1});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.Sample(kLogits.data(), 6), 1);
}

TEST(SamplerTest, TopKKeepsOnlyTheKMostLikelyTokens) {
  Sampler sampler({.temperature = 10.0f, .top_k = 3, .top_p = 1.0f, .min_p = 0, .seed = 2});
  for (int i = 0; i < 300; ++i) {
    const int32_t t = sampler.Sample(kLogits.data(), 6);
    EXPECT_TRUE(t == 1 || t == 4 || t == 2) << t;
  }
}

TEST(SamplerTest, TinyTopPKeepsOnlyTheMostLikelyToken) {
  Sampler sampler({.temperature = 1.0f, .top_k = 0, .top_p = 0.01f, .min_p = 0, .seed = 3});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.Sample(kLogits.data(), 6), 1);
}

TEST(SamplerTest, MinPDropsTokensFarBelowTheBest) {
  // p(token 0)/p_max = e^-2 ≈ 0.135 < 0.3; tokens 1, 4 (ratio 1) and 2 (e^-0.5 ≈ 0.61) survive.
  Sampler sampler({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.3f, .seed = 4});
  for (int i = 0; i < 300; ++i) {
    const int32_t t = sampler.Sample(kLogits.data(), 6);
    EXPECT_TRUE(t == 1 || t == 4 || t == 2) << t;
  }
}

TEST(SamplerTest, SampledFrequenciesFollowTheSoftmax) {
  const std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = 1/4, 3/4
  Sampler sampler({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0, .seed = 5});
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += sampler.Sample(logits.data(), 2) == 1;
  EXPECT_NEAR(ones / double(n), 0.75, 0.015);
}

}  // namespace
}  // namespace kvik
