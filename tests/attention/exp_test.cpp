#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attention/group_kernels.h"

namespace kvik {
namespace {

using attention::ExpReference;

// Every 331st float from −104 to 89 (about 7 million inputs).
std::vector<float> ManyInputs() {
  std::vector<float> x;
  const uint32_t neg_lo = std::bit_cast<uint32_t>(-104.0f), pos_hi = std::bit_cast<uint32_t>(89.0f);
  for (uint32_t b = neg_lo; b > 0x80000000u && b <= neg_lo; b -= 331)
    x.push_back(std::bit_cast<float>(b));
  for (uint32_t b = 0; b <= pos_hi; b += 331) x.push_back(std::bit_cast<float>(b));
  return x;
}

TEST(ExpTest, IsWithinTwoUlpOfStdExpOnTheNormalRange) {
  double worst = 0;
  float worst_x = 0;
  for (float x : ManyInputs()) {
    const double exact = std::exp(static_cast<double>(x));
    if (exact < std::numeric_limits<float>::min() || exact > std::numeric_limits<float>::max())
      continue;
    const double error = std::fabs(ExpReference(x) - exact) / exact;
    if (error > worst) worst = error, worst_x = x;
  }
  // 2 ulp of a float in [1, 2) relative to the value: 2 · 2^−23 ≈ 2.4e−7.
  EXPECT_LE(worst, 2.0 * std::ldexp(1.0, -23)) << "at x=" << worst_x;
}

TEST(ExpTest, SubnormalAndOverflowingResultsRoundTowardZeroAndInfinity) {
  EXPECT_EQ(ExpReference(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_FALSE(std::signbit(ExpReference(-std::numeric_limits<float>::infinity())));
  EXPECT_EQ(ExpReference(-1000.0f), 0.0f);
  EXPECT_EQ(ExpReference(-104.0f), 0.0f);
  EXPECT_EQ(ExpReference(0.0f), 1.0f);
  EXPECT_EQ(ExpReference(-0.0f), 1.0f);
  EXPECT_EQ(ExpReference(89.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(ExpReference(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(ExpReference(std::numeric_limits<float>::quiet_NaN())));
  // Between −103.3 and −87.3 the result is subnormal: within one subnormal step of the truth.
  for (float x = -103.0f; x < -87.4f; x += 0.37f) {
    const double exact = std::exp(static_cast<double>(x));
    EXPECT_LE(std::fabs(ExpReference(x) - exact), std::ldexp(1.0, -149)) << x;
  }
  // The largest finite results stay finite (the exponent 128 case).
  EXPECT_TRUE(std::isfinite(ExpReference(88.72f)));
  EXPECT_NEAR(ExpReference(88.72f) / std::exp(static_cast<double>(88.72f)), 1.0, 3e-7);
}

// The softmax kernels take the rescale factor exp(m − m) to be exactly 1 and skip computing it
// (MaxUnchanged, group_kernels.h); that keeps their bits only if the exp of ±0 is exactly 1.
TEST(ExpTest, ExpOfZeroIsExactlyOne) {
  EXPECT_EQ(std::bit_cast<uint32_t>(ExpReference(0.0f)), std::bit_cast<uint32_t>(1.0f));
  EXPECT_EQ(std::bit_cast<uint32_t>(ExpReference(-0.0f)), std::bit_cast<uint32_t>(1.0f));
  EXPECT_TRUE(attention::MaxUnchanged(3.5f, 3.5f));
  EXPECT_FALSE(attention::MaxUnchanged(3.5f, 4.0f));
  EXPECT_FALSE(attention::MaxUnchanged(-std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity()));
  EXPECT_FALSE(attention::MaxUnchanged(std::numeric_limits<float>::quiet_NaN(),
                                       std::numeric_limits<float>::quiet_NaN()));
}

TEST(ExpTest, EveryVectorVersionGivesTheReferenceBits) {
  std::vector<float> x = ManyInputs();
  for (float special :
       {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(), 0.0f,
        -0.0f, -104.0f, -103.9f, -87.34f, 88.72f, 88.7228f, 89.0f, 1e30f, -1e30f,
        std::numeric_limits<float>::denorm_min(), 0.34657359f, -0.34657359f}) {
    x.push_back(special);
  }
  x.push_back(1.0f);  // an odd count exercises the vector tails
  std::vector<std::pair<std::string, attention::GroupKernels>> sets;
  if (auto k = attention::Avx2GroupKernels()) sets.push_back({"avx2", k});
  if (auto k = attention::Avx512GroupKernels()) sets.push_back({"avx512", k});
  sets.push_back({"scalar", attention::ScalarGroupKernels()});
  std::vector<float> y(x.size());
  for (const auto& [isa, kernels] : sets) {
    kernels.exp_row(x.data(), static_cast<int64_t>(x.size()), y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(ExpReference(x[i])))
          << isa << " x=" << x[i];
    }
    const float nan = std::numeric_limits<float>::quiet_NaN();
    kernels.exp_row(&nan, 1, y.data());
    EXPECT_TRUE(std::isnan(y[0])) << isa;
  }
}

}  // namespace
}  // namespace kvik
