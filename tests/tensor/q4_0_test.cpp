// Q4_0 × rounded activations (src/tensor/dot_q4_0.cpp): the rounding itself, the exact integer
// block sums, agreement between ISAs, and the error the rounding adds against f32 activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "util/half.h"
#include "tensor/random_floats.h"

namespace kvik {
namespace {

using kernels::KernelSet;
using kernels::Q8Act;

using testing::RandomFloats;

std::vector<uint8_t> Q4Row(const std::vector<float>& values) {
  std::vector<uint8_t> row(RowBytes(DType::kQ4_0, values.size()));
  QuantizeRow(DType::kQ4_0, values.data(), static_cast<int64_t>(values.size()), row.data());
  return row;
}

std::vector<Q8Act> Rounded(const std::vector<float>& x) {
  std::vector<Q8Act> blocks(x.size() / 32);
  kernels::QuantizeActivations(x.data(), static_cast<int64_t>(x.size()), blocks.data());
  return blocks;
}

// Every ISA's Q4_0 kernels this CPU runs.
std::vector<KernelSet> SupportedSets() {
  std::vector<KernelSet> sets = {kernels::ScalarQ4_0Kernels()};
  if (kernels::CpuHasAvx2()) sets.push_back(kernels::Avx2Q4_0Kernels());
  if (kernels::CpuHasAvx512()) sets.push_back(kernels::Avx512Q4_0Kernels());
  return sets;
}

TEST(Q8ActivationsTest, EachValueIsWithinHalfAStepAndTheLargestIsExact) {
  const auto x = RandomFloats(32 * 9, 1);
  const auto blocks = Rounded(x);
  for (size_t b = 0; b < blocks.size(); ++b) {
    const Q8Act& a = blocks[b];
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    EXPECT_EQ(a.d, amax / 127.0f);
    int max_step = 0;
    for (int j = 0; j < 32; ++j) {
      EXPECT_LE(std::fabs(x[32 * b + j] - a.q[j] * a.d), 0.5f * a.d * (1 + 1e-5f));
      max_step = std::max(max_step, std::abs(static_cast<int>(a.q[j])));
    }
    EXPECT_EQ(max_step, 127);
    for (int g = 0; g < 8; ++g) {
      EXPECT_EQ(a.bias[g], -8 * (a.q[4 * g] + a.q[4 * g + 1] + a.q[4 * g + 2] + a.q[4 * g + 3]));
    }
  }
}

TEST(Q8ActivationsTest, TiesRoundToEvenAndAZeroBlockIsZero) {
  std::vector<float> x(64, 0.0f);
  x[0] = 127.0f;  // scale exactly 1
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  const auto blocks = Rounded(x);
  EXPECT_EQ(blocks[0].d, 1.0f);
  EXPECT_EQ(blocks[0].q[1], 2);
  EXPECT_EQ(blocks[0].q[2], 4);
  EXPECT_EQ(blocks[0].q[3], -2);
  EXPECT_EQ(blocks[1].d, 0.0f);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(blocks[1].q[j], 0);
}

TEST(Q8ActivationsTest, DispatchedRoundingGivesTheScalarReferencesBytes) {
  auto x = RandomFloats(32 * 40, 10);
  for (int j = 0; j < 32; ++j) {
    x[32 * 1 + j] = 0.0f;                           // a zero block
    x[32 * 2 + j] = 1e-38f * (j + 1);               // too small to invert: zeros
    x[32 * 3 + j] = static_cast<float>(j) - 15.0f;  // small integers: exact products
    x[32 * 4 + j] = 3e38f * (j % 2 ? 1 : -1);       // near the float range
  }
  x[32 * 5 + 7] = std::numeric_limits<float>::quiet_NaN();
  x[32 * 6 + 31] = std::numeric_limits<float>::infinity();
  x[32 * 7 + 0] = -std::numeric_limits<float>::infinity();
  std::vector<Q8Act> fast(40), reference(40);
  kernels::QuantizeActivations(x.data(), 32 * 40, fast.data());
  kernels::QuantizeActivationsScalar(x.data(), 32 * 40, reference.data());
  for (int b = 0; b < 40; ++b) {
    ASSERT_EQ(std::memcmp(fast[b].q, reference[b].q, 32), 0) << "block " << b;
    ASSERT_EQ(std::memcmp(fast[b].bias, reference[b].bias, 32), 0) << "block " << b;
    ASSERT_EQ(std::memcmp(&fast[b].d, &reference[b].d, 4), 0) << "block " << b;
  }
  // Non-finite inputs give a zero block whose scale carries the NaN/infinity to the result.
  for (int b : {5, 6, 7}) {
    EXPECT_FALSE(std::isfinite(reference[b].d)) << b;
    for (int j = 0; j < 32; ++j) EXPECT_EQ(reference[b].q[j], 0);
  }
}

// Σ_b d_w · d_a · Σ_j (w_j − 8) · q_j in float64, from the stored bytes.
double ExactDot(const std::vector<uint8_t>& row, const std::vector<Q8Act>& x) {
  double sum = 0;
  for (size_t b = 0; b < x.size(); ++b) {
    const uint8_t* block = row.data() + 18 * b;
    uint16_t h;
    std::memcpy(&h, block, 2);
    int64_t blocks_sum = 0;
    for (int j = 0; j < 16; ++j) {
      blocks_sum += ((block[2 + j] & 0x0f) - 8) * x[b].q[j];
      blocks_sum += ((block[2 + j] >> 4) - 8) * x[b].q[j + 16];
    }
    sum += static_cast<double>(F16ToF32(h)) * x[b].d * static_cast<double>(blocks_sum);
  }
  return sum;
}

TEST(Q4_0KernelTest, EveryIsaMatchesTheExactSumOfItsRoundedInputs) {
  for (int64_t n : {32, 64, 96, 32 * 33, 32 * 129}) {
    const auto row = Q4Row(RandomFloats(n, 2));
    const auto x = Rounded(RandomFloats(n, 3));
    const double exact = ExactDot(row, x);
    double magnitude = 0;  // Σ |terms|: the scale of f32 rounding in the accumulation
    for (size_t b = 0; b < x.size(); ++b) magnitude += std::fabs(x[b].d) * 127 * 8 * 32;
    for (const KernelSet& set : SupportedSets()) {
      float out = 0;
      set.dot_q8_tokens(1)(row.data(), x.data(), 0, n, &out, 0);
      EXPECT_NEAR(out, exact, 1e-6 * magnitude) << "n=" << n;
    }
  }
}

TEST(Q4_0KernelTest, Avx2AndAvx512KernelsGiveTheSameBits) {
  if (!kernels::CpuHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const KernelSet avx2 = kernels::Avx2Q4_0Kernels(), avx512 = kernels::Avx512Q4_0Kernels();
  for (int64_t n : {32, 64, 96, 32 * 33, 32 * 129}) {
    const auto row = Q4Row(RandomFloats(n, 4));
    const auto x = RandomFloats(n, 5);
    EXPECT_EQ(avx2.dot(row.data(), x.data(), n), avx512.dot(row.data(), x.data(), n)) << n;
  }
}

TEST(Q4_0KernelTest, TokenBatchedKernelsEqualTheOneTokenKernelBitForBit) {
  const int64_t n = 32 * 7;
  const auto row = Q4Row(RandomFloats(n, 6));
  const int64_t stride = n / 32 + 1;  // token rows need not be packed
  std::vector<Q8Act> x(kernels::kMaxTokensPerKernel * stride);
  for (int t = 0; t < kernels::kMaxTokensPerKernel; ++t) {
    const auto values = RandomFloats(n, 7 + t);
    kernels::QuantizeActivations(values.data(), n, x.data() + t * stride);
  }
  for (const KernelSet& set : SupportedSets()) {
    for (int count = 1; count <= kernels::kMaxTokensPerKernel; ++count) {
      std::vector<float> out(2 * count, -1.0f);
      set.dot_q8_tokens(count)(row.data(), x.data(), stride, n, out.data(), 2);
      for (int t = 0; t < count; ++t) {
        float alone = 0;
        set.dot_q8_tokens(1)(row.data(), x.data() + t * stride, 0, n, &alone, 0);
        ASSERT_EQ(out[2 * t], alone) << "token " << t << " of " << count;
        ASSERT_EQ(out[2 * t + 1], -1.0f) << "wrote outside its output stride";
      }
    }
  }
}

TEST(Q4_0KernelTest, RowsKernelsEqualTheOneRowKernelBitForBit) {
  const int64_t n = 32 * 9, row_bytes = RowBytes(DType::kQ4_0, n) + 7;
  std::vector<uint8_t> rows(kernels::kRowsPerKernel * row_bytes);
  for (int r = 0; r < kernels::kRowsPerKernel; ++r) {
    const auto row = Q4Row(RandomFloats(n, 30 + r));
    std::copy(row.begin(), row.end(), rows.begin() + r * row_bytes);
  }
  std::vector<Q8Act> x(kernels::kMaxTokensPerKernel * (n / 32));
  for (int t = 0; t < kernels::kMaxTokensPerKernel; ++t) {
    const auto values = RandomFloats(n, 40 + t);
    kernels::QuantizeActivations(values.data(), n, x.data() + t * (n / 32));
  }
  int tested = 0;
  for (const KernelSet& set : SupportedSets()) {
    if (!set.dot_q8_rows_tokens) continue;
    ++tested;
    for (int count = 1; count <= kernels::kMaxTokensPerKernel; ++count) {
      const int64_t out_stride = kernels::kRowsPerKernel + 1;
      std::vector<float> out(count * out_stride, -1.0f);
      set.dot_q8_rows_tokens(count)(rows.data(), row_bytes, x.data(), n / 32, n, out.data(),
                                    out_stride);
      for (int t = 0; t < count; ++t) {
        for (int r = 0; r < kernels::kRowsPerKernel; ++r) {
          float alone = 0;
          set.dot_q8_tokens(1)(rows.data() + r * row_bytes, x.data() + t * (n / 32), 0, n, &alone,
                               0);
          ASSERT_EQ(out[t * out_stride + r], alone) << "row " << r << " token " << t;
        }
        ASSERT_EQ(out[t * out_stride + kernels::kRowsPerKernel], -1.0f) << "wrote past its rows";
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no ISA with a two-row Q4_0 kernel on this CPU";
}

TEST(Q4_0KernelTest, RoundingTheActivationsCostsAtMostHalfAStepPerWeight) {
  // |Σ w·x − Σ w·x̂| ≤ Σ_b (d_b / 2) Σ_{j∈b} |w_j|, with w the dequantised weights.
  const int64_t n = 32 * 64;
  const auto row = Q4Row(RandomFloats(n, 8));
  const auto x = RandomFloats(n, 9);
  std::vector<float> w(n);
  DequantizeRow(DType::kQ4_0, row.data(), n, w.data());
  const auto blocks = Rounded(x);
  double exact = 0, bound = 0;
  for (int64_t i = 0; i < n; ++i) {
    exact += static_cast<double>(w[i]) * x[i];
    bound += 0.5 * blocks[i / 32].d * std::fabs(w[i]);
  }
  const float got = DotRow(DType::kQ4_0, row.data(), x.data(), n);
  EXPECT_LE(std::fabs(got - exact), bound * 1.001 + 1e-4);
  EXPECT_GT(bound, 0);
}

}  // namespace
}  // namespace kvik
