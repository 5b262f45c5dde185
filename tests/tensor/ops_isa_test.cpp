// The AVX-512 element-wise kernels against their scalar references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/dot_kernels.h"
#include "tensor/op_kernels.h"
#include "tensor/random_floats.h"

namespace kvik::kernels {
namespace {

using testing::RandomFloats;

const int64_t kOddLengths[] = {1, 5, 15, 16, 17, 31, 33, 100, 768, 4097};

// Distance in units in the last place (finite, same-sign values).
int64_t UlpDistance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(static_cast<int64_t>(ia) - ib);
}

class OpsAvx512Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CpuHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  }
};

TEST_F(OpsAvx512Test, ExpIsWithinTwoUlpOfStdExpOverTheNormalRange) {
  std::vector<float> x;
  for (float v = -87.0f; v <= 88.0f; v += 0.0137f) x.push_back(v);
  std::vector<float> out(x.size());
  ExpAvx512(x.data(), out.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(UlpDistance(out[i], std::exp(x[i])), 2) << "exp(" << x[i] << ")";
  }
}

TEST_F(OpsAvx512Test, ExpHandlesTheEndsOfTheRange) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.0f, -inf, -200.0f, 100.0f, inf};
  std::vector<float> out(x.size());
  ExpAvx512(x.data(), out.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], inf);
  EXPECT_EQ(out[4], inf);
}

TEST_F(OpsAvx512Test, RmsNormMatchesScalarReference) {
  for (int64_t n : kOddLengths) {
    const auto x = RandomFloats(n, 1), w = RandomFloats(n, 2);
    std::vector<float> fast(n), reference(n);
    RmsNormAvx512(fast.data(), x.data(), w.data(), n, 1e-5f);
    RmsNormScalar(reference.data(), x.data(), w.data(), n, 1e-5f);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(fast[i], reference[i], 1e-5f * (1.0f + std::fabs(reference[i]))) << n << " " << i;
    }
  }
}

TEST_F(OpsAvx512Test, SoftmaxMatchesScalarReference) {
  for (int64_t n : kOddLengths) {
    auto fast = RandomFloats(n, 3, 10.0f);
    auto reference = fast;
    SoftmaxAvx512(fast.data(), n);
    SoftmaxScalar(reference.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(fast[i], reference[i], 1e-6f + 1e-5f * reference[i]) << n << " " << i;
    }
  }
}

TEST_F(OpsAvx512Test, SoftmaxGivesMinusInfinityZeroWeight) {
  std::vector<float> x = {1.0f, -std::numeric_limits<float>::infinity(), 2.0f};
  SoftmaxAvx512(x.data(), 3);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_NEAR(x[0] + x[2], 1.0f, 1e-6f);
}

TEST_F(OpsAvx512Test, SwiGluMatchesScalarReference) {
  for (int64_t n : kOddLengths) {
    auto fast = RandomFloats(n, 4, 4.0f);
    auto reference = fast;
    const auto up = RandomFloats(n, 5);
    SwiGluAvx512(fast.data(), up.data(), n);
    SwiGluScalar(reference.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(fast[i], reference[i], 1e-6f + 1e-5f * std::fabs(reference[i])) << n << " " << i;
    }
  }
}

// Prefill runs SwiGLU over n_tokens rows at once, decode over one: each element must come out the
// same either way (the cache == recompute guarantee).
TEST_F(OpsAvx512Test, SwiGluOfManyRowsEqualsEachRowAloneBitForBit) {
  const int64_t width = 37, rows = 5;
  const auto gate = RandomFloats(width * rows, 6, 4.0f), up = RandomFloats(width * rows, 7);
  auto together = gate;
  SwiGluAvx512(together.data(), up.data(), width * rows);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> alone(gate.begin() + r * width, gate.begin() + (r + 1) * width);
    SwiGluAvx512(alone.data(), up.data() + r * width, width);
    for (int64_t i = 0; i < width; ++i)
      ASSERT_EQ(alone[i], together[r * width + i]) << r << " " << i;
  }
}

}  // namespace
}  // namespace kvik::kernels
