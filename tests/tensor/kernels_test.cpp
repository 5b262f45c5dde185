#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "util/thread_pool.h"
#include "tensor/random_floats.h"

namespace kvik {
namespace {

using testing::RandomFloats;

std::vector<uint8_t> Quantized(DType type, const std::vector<float>& values, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(RowBytes(type, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    QuantizeRow(type, values.data() + r * cols, cols, out.data() + r * RowBytes(type, cols));
  return out;
}

class KernelTest : public ::testing::TestWithParam<DType> {};

TEST_P(KernelTest, DispatchedDotMatchesScalarReferenceOnOddLengths) {
  const DType type = GetParam();
  const int64_t block = Info(type).block_elements;
  for (int64_t n : {block, 2 * block, 7 * block, 33 * block, 97 * block}) {
    if (block == 1) n += 3;  // plain types: lengths that are not a multiple of the SIMD width
    const auto w = RandomFloats(n, 1);
    const auto x = RandomFloats(n, 2);
    const auto row = Quantized(type, w, 1, n);
    const float fast = DotRow(type, row.data(), x.data(), n);
    const float reference = DotRowScalar(type, row.data(), x.data(), n);
    EXPECT_NEAR(fast, reference, 1e-4f * (1.0f + std::fabs(reference))) << Name(type) << " n=" << n;
  }
}

TEST_P(KernelTest, MatMulRowsEqualMatVecBitForBitAtAnyThreadCount) {
  const DType type = GetParam();
  const int64_t rows = 37, cols = 96, tokens = 5;
  const auto w = Quantized(type, RandomFloats(rows * cols, 3), rows, cols);
  const auto x = RandomFloats(tokens * cols, 4);
  const MatrixView view{type, rows, cols, w.data()};
  std::vector<float> batched(tokens * rows);
  ThreadPool two(2);
  MatMul(view, x.data(), tokens, batched.data(), &two);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t t = 0; t < tokens; ++t) {
      std::vector<float> single(rows);
      MatVec(view, x.data() + t * cols, single.data(), &pool);
      for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(single[r], batched[t * rows + r]);
    }
  }
}

TEST_P(KernelTest, MatVecHandlesSingleRowAndSingleBlockShapes) {
  const DType type = GetParam();
  const int64_t cols = Info(type).block_elements == 1 ? 1 : 32;
  for (int64_t rows : {1, 3}) {
    const auto wf = RandomFloats(rows * cols, 5);
    const auto w = Quantized(type, wf, rows, cols);
    const auto x = RandomFloats(cols, 6);
    std::vector<float> y(rows);
    MatVec({type, rows, cols, w.data()}, x.data(), y.data(), nullptr);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_NEAR(y[r], DotRowScalar(type, w.data() + r * RowBytes(type, cols), x.data(), cols), 1e-5f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllComputableTypes, KernelTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                                           DType::kQ4_0),
                         [](const auto& info) { return std::string(Name(info.param)); });

TEST(MatMulSharedTest, EqualsOneMatMulPerMatrixBitForBit) {
  // Mixed types (integer and float kernels share one prepared input), unaligned x, token counts
  // across the kernels' groups and the scratch chunk, 1-3 threads, and more than 4 matrices.
  const int64_t cols = 96;
  const DType types[] = {DType::kQ4_0, DType::kF32, DType::kQ8_0, DType::kF16, DType::kQ4_0};
  const int64_t rows[] = {37, 16, 5, 64, 1};
  std::vector<std::vector<uint8_t>> weights;
  for (size_t i = 0; i < std::size(types); ++i) {
    weights.push_back(Quantized(types[i], RandomFloats(rows[i] * cols, 50 + i), rows[i], cols));
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n_tokens : {1, 3, 9, 4000}) {
      const auto x = RandomFloats(n_tokens * cols + 1, 60);
      const float* unaligned = x.data() + 1;
      std::vector<std::vector<float>> shared(std::size(types)), alone(std::size(types));
      std::vector<MatMulTarget> targets;
      for (size_t i = 0; i < std::size(types); ++i) {
        shared[i].assign(n_tokens * rows[i], -1.0f);
        alone[i].assign(n_tokens * rows[i], -2.0f);
        const MatrixView w{types[i], rows[i], cols, weights[i].data()};
        targets.push_back({w, shared[i].data()});
        MatMul(w, unaligned, n_tokens, alone[i].data(), &pool);
      }
      MatMulShared(targets, unaligned, n_tokens, &pool);
      for (size_t i = 0; i < std::size(types); ++i) {
        ASSERT_EQ(shared[i], alone[i]) << "matrix " << i << " tokens " << n_tokens << " threads "
                                       << threads;
      }
    }
  }
}

TEST(QuantizeTest, RoundTripErrorStaysWithinEachTypesBound) {
  const int64_t n = 32 * 64;
  const auto x = RandomFloats(n, 7);
  // Bounds relative to each block's max |x|: f16 ~2^-11, bf16 ~2^-8, q8_0 half a step of amax/127,
  // q4_0 half a step of amax/8 (plus the clamp at the positive end costs one step).
  const struct { DType type; float bound; } cases[] = {
      {DType::kF32, 0.0f}, {DType::kF16, 1.0f / 2048}, {DType::kBF16, 1.0f / 256},
      {DType::kQ8_0, 0.5f / 127 + 1e-3f}, {DType::kQ4_0, 1.0f / 8 + 1e-3f}};
  for (const auto& c : cases) {
    std::vector<uint8_t> q(RowBytes(c.type, n));
    std::vector<float> back(n);
    QuantizeRow(c.type, x.data(), n, q.data());
    DequantizeRow(c.type, q.data(), n, back.data());
    for (int64_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      for (int j = 0; j < 32; ++j) {
        const int64_t i = b * 32 + j;
        ASSERT_LE(std::fabs(back[i] - x[i]), c.bound * amax + 1e-7f) << Name(c.type) << " at " << i;
      }
    }
  }
}

TEST(QuantizeTest, AllZeroBlockStaysZero) {
  std::vector<float> zeros(32, 0.0f), back(32, 1.0f);
  for (DType type : {DType::kQ8_0, DType::kQ4_0}) {
    std::vector<uint8_t> q(RowBytes(type, 32));
    QuantizeRow(type, zeros.data(), 32, q.data());
    DequantizeRow(type, q.data(), 32, back.data());
    for (float v : back) EXPECT_EQ(v, 0.0f);
  }
}

TEST(OpsTest, RmsNormGivesUnitRootMeanSquare) {
  std::vector<float> x = {1, -2, 3, -4}, w(4, 1.0f), out(4);
  RmsNorm(out.data(), x.data(), w.data(), 4, 0.0f);
  float ms = 0;
  for (float v : out) ms += v * v;
  EXPECT_NEAR(ms / 4, 1.0f, 1e-6f);
}

TEST(OpsTest, RopeAtPositionZeroIsIdentityAndPreservesPairNorms) {
  auto x = RandomFloats(2 * 8, 9);
  auto y = x;
  RopeInPlace(y.data(), 2, 8, 8, 0, 10000.0f);
  EXPECT_EQ(x, y);
  RopeInPlace(y.data(), 2, 8, 8, 17, 10000.0f);
  for (int i = 0; i < 16; i += 2) {
    EXPECT_NEAR(std::hypot(x[i], x[i + 1]), std::hypot(y[i], y[i + 1]), 1e-5f);
  }
}

TEST(OpsTest, RopeLeavesDimensionsBeyondRopeDimUntouched) {
  auto x = RandomFloats(8, 10);
  auto y = x;
  RopeInPlace(y.data(), 1, 8, 4, 5, 10000.0f);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(x[i], y[i]);
  EXPECT_NE(x[0], y[0]);
}

// The per-thread angle tables must give each position the same bits however the positions before
// it filled (or evicted) the tables, and follow a change of rope_dim or base.
TEST(OpsTest, RopeGivesTheSameBitsWhateverWasRotatedBefore) {
  const auto x = RandomFloats(4 * 16, 11);
  auto rotate = [&](int64_t pos, int64_t rope_dim, float base) {
    auto y = x;
    RopeInPlace(y.data(), 4, 16, rope_dim, pos, base);
    return y;
  };
  const auto at_3000 = rotate(3000, 16, 10000.0f);
  const auto at_1976 = rotate(1976, 16, 10000.0f);  // the same slot as 3000 (1024 slots)
  for (int64_t pos = 0; pos < 2048; pos += 7) rotate(pos, 16, 10000.0f);
  EXPECT_EQ(rotate(3000, 16, 10000.0f), at_3000);
  EXPECT_EQ(rotate(1976, 16, 10000.0f), at_1976);
  EXPECT_EQ(rotate(3000, 16, 10000.0f), at_3000);
  const auto other_base = rotate(3000, 16, 500000.0f);
  EXPECT_NE(other_base, at_3000);
  const auto other_dim = rotate(3000, 8, 10000.0f);
  EXPECT_NE(other_dim, at_3000);
  EXPECT_EQ(rotate(3000, 16, 10000.0f), at_3000);
  EXPECT_EQ(rotate(3000, 16, 500000.0f), other_base);
  // Negative positions (context shift rotates keys back) have slots of their own, and rotating
  // back undoes rotating forward up to rounding.
  const auto back = rotate(-3000, 16, 10000.0f);
  EXPECT_EQ(rotate(-3000, 16, 10000.0f), back);
  auto there_and_back = at_3000;
  RopeInPlace(there_and_back.data(), 4, 16, 16, -3000, 10000.0f);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(there_and_back[i], x[i], 1e-3f) << i;
  EXPECT_EQ(rotate(1024, 16, 10000.0f), rotate(1024, 16, 10000.0f));
  EXPECT_NE(rotate(-1024, 16, 10000.0f), rotate(1024, 16, 10000.0f));
}

TEST(OpsTest, SoftmaxSumsToOneAndSurvivesLargeValues) {
  std::vector<float> x = {1000, 1001, 999};
  SoftmaxInPlace(x.data(), 3);
  EXPECT_NEAR(x[0] + x[1] + x[2], 1.0f, 1e-6f);
  EXPECT_GT(x[1], x[0]);
}

}  // namespace
}  // namespace kvik
