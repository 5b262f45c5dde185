#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kvik/lsh.h"

namespace kvik::lsh {
namespace {

std::vector<WeightedToken> RandomSet(std::mt19937_64& rng, bool weighted) {
  // A small vocabulary so random pairs cover the whole Jaccard range, from disjoint to equal.
  std::uniform_int_distribution<int> size(1, 6), token(0, 11);
  std::uniform_real_distribution<double> weight(0.1, 5.0);
  std::vector<WeightedToken> set;
  int n = size(rng);
  for (int i = 0; i < n; ++i) {
    uint64_t hash = HashToken("token" + std::to_string(token(rng)));
    bool duplicate = false;
    for (const auto& t : set) duplicate |= t.hash == hash;
    if (!duplicate) set.push_back({hash, weighted ? weight(rng) : 1.0});
  }
  return set;
}

// The defining property: the fraction of agreeing samples estimates the (weighted) Jaccard. With
// 5,000 samples the standard error is at most 0.007, so ±0.03 holds for every one of 1,000 pairs.
void ExpectAgreementEstimatesJaccard(bool weighted) {
  std::mt19937_64 rng(weighted ? 7 : 11);
  MinHasher hasher({.num_hashes = 5000, .rows = 1, .seed = 42, .weighted = weighted});
  double worst = 0, signed_error_sum = 0;
  for (int pair = 0; pair < 1000; ++pair) {
    auto a = RandomSet(rng, weighted), b = RandomSet(rng, weighted);
    // Half the pairs share b's tokens with a's weights perturbed, so high similarities are covered.
    if (pair % 2 == 1) {
      b = a;
      for (auto& t : b)
        t.weight *= weighted ? std::uniform_real_distribution<double>(0.5, 1.5)(rng) : 1;
      if (b.size() > 1 && pair % 4 == 1) b.pop_back();
    }
    auto sa = hasher.Samples(a), sb = hasher.Samples(b);
    int agree = 0;
    for (size_t j = 0; j < sa.size(); ++j) agree += sa[j] == sb[j];
    double estimate = static_cast<double>(agree) / sa.size();
    double exact = MinHasher::Jaccard(a, b, weighted);
    worst = std::max(worst, std::abs(estimate - exact));
    signed_error_sum += estimate - exact;
    ASSERT_NEAR(estimate, exact, 0.03) << "pair " << pair;
  }
  EXPECT_NEAR(signed_error_sum / 1000, 0.0, 0.003) << "estimator is biased";
  ::testing::Test::RecordProperty("worst_abs_error", std::to_string(worst));
}

TEST(MinHash, WeightedAgreementEstimatesWeightedJaccardWithin3Points) {
  ExpectAgreementEstimatesJaccard(true);
}

TEST(MinHash, PlainAgreementEstimatesJaccardWithin3Points) {
  ExpectAgreementEstimatesJaccard(false);
}

TEST(MinHash, IdenticalSetsGiveIdenticalBucketKeysWhateverTheOrder) {
  MinHasher hasher;
  std::vector<WeightedToken> a = {{1, 2.0}, {2, 1.0}, {3, 0.5}};
  std::vector<WeightedToken> b = {{3, 0.5}, {1, 2.0}, {2, 1.0}};
  EXPECT_EQ(hasher.BucketKeys(a), hasher.BucketKeys(b));
  EXPECT_EQ(hasher.BucketKeys(a).size(), 36u);
}

TEST(MinHash, SeedChangesTheBuckets) {
  std::vector<WeightedToken> a = {{1, 2.0}, {2, 1.0}};
  EXPECT_NE(MinHasher({.seed = 1}).BucketKeys(a), MinHasher({.seed = 2}).BucketKeys(a));
}

TEST(MinHash, RowsMakeBucketsStricterThanSingleSamples) {
  std::mt19937_64 rng(3);
  MinHasher one({.num_hashes = 2000, .rows = 1}), two({.num_hashes = 2000, .rows = 2});
  std::vector<WeightedToken> a = {{1, 1.0}, {2, 1.0}, {3, 1.0}}, b = {{1, 1.0}, {2, 1.0}, {4, 1.0}};
  auto agreement = [&](const MinHasher& h) {
    auto ka = h.BucketKeys(a), kb = h.BucketKeys(b);
    int agree = 0;
    for (size_t i = 0; i < ka.size(); ++i) agree += ka[i] == kb[i];
    return static_cast<double>(agree) / ka.size();
  };
  EXPECT_NEAR(agreement(one), 0.5, 0.04);   // J = 2/4
  EXPECT_NEAR(agreement(two), 0.25, 0.04);  // J^2
}

TEST(MinHash, ExactJaccardHandlesEmptySets) {
  EXPECT_EQ(MinHasher::Jaccard({}, {}, true), 0.0);
  EXPECT_EQ(MinHasher::Jaccard({{1, 1.0}}, {}, false), 0.0);
}

}  // namespace
}  // namespace kvik::lsh
