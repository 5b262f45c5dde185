// Q4_0 and Q8_0 × rounded activations (src/tensor/dot_q4_0.cpp, dot_q8_0.cpp): the rounding
// itself, the exact integer block sums, the interleaved layout, agreement between ISAs and layouts,
// and the error the rounding adds against f32 activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "tensor/interleaved_layout.h"
#include "tensor/random_floats.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

using kernels::KernelSet;
using kernels::Q8Act;
constexpr int64_t kGroupRows = kernels::interleaved::kGroupRows;
constexpr DType kIntegerTypes[] = {DType::kQ4_0, DType::kQ8_0};

using testing::RandomFloats;

std::vector<uint8_t> QuantizedRow(DType type, const std::vector<float>& values) {
  std::vector<uint8_t> row(RowBytes(type, values.size()));
  QuantizeRow(type, values.data(), static_cast<int64_t>(values.size()), row.data());
  return row;
}

std::vector<Q8Act> Rounded(const std::vector<float>& x) {
  std::vector<Q8Act> blocks(x.size() / 32);
  kernels::QuantizeActivations(x.data(), static_cast<int64_t>(x.size()), blocks.data());
  return blocks;
}

// Every ISA's kernels for `type` this CPU runs, with and without the streaming prefetch, the
// scalar reference first.
std::vector<KernelSet> SupportedSets(DType type) {
  const bool q4 = type == DType::kQ4_0;
  std::vector<KernelSet> sets = {q4 ? kernels::ScalarQ4_0Kernels() : kernels::ScalarQ8_0Kernels()};
  for (kernels::Prefetch prefetch : {kernels::Prefetch::kOff, kernels::Prefetch::kAhead}) {
    if (kernels::CpuHasAvx2()) {
      sets.push_back(q4 ? kernels::Avx2Q4_0Kernels(prefetch) : kernels::Avx2Q8_0Kernels(prefetch));
    }
    if (kernels::CpuHasAvx512()) {
      sets.push_back(q4 ? kernels::Avx512Q4_0Kernels(prefetch)
                        : kernels::Avx512Q8_0Kernels(prefetch));
    }
  }
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
    int sum = 0, sum_v = 0;
    for (int j = 0; j < 32; ++j) {
      // The residual step takes the error to 1/256 of a step.
      EXPECT_LE(std::fabs(x[32 * b + j] - (a.q[j] + a.r[j] / 256.0) * a.d), a.d / 512 * (1 + 1e-3));
      EXPECT_EQ(a.v[j], 256 * a.q[j] + a.r[j]);
      sum += a.q[j];
      sum_v += a.v[j];
    }
    EXPECT_EQ(a.bias, -8 * sum);
    EXPECT_EQ(a.bias_q8, -128 * sum_v);
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
    ASSERT_EQ(std::memcmp(fast[b].r, reference[b].r, 32), 0) << "block " << b;
    ASSERT_EQ(std::memcmp(fast[b].v, reference[b].v, 64), 0) << "block " << b;
    ASSERT_EQ(fast[b].bias, reference[b].bias) << "block " << b;
    ASSERT_EQ(fast[b].bias_q8, reference[b].bias_q8) << "block " << b;
    ASSERT_EQ(std::memcmp(&fast[b].d, &reference[b].d, 4), 0) << "block " << b;
  }
  // Non-finite inputs give a zero block whose scale carries the NaN/infinity to the result.
  for (int b : {5, 6, 7}) {
    EXPECT_FALSE(std::isfinite(reference[b].d)) << b;
    for (int j = 0; j < 32; ++j) EXPECT_EQ(reference[b].q[j], 0);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(reference[b].r[j], 0);
  }
}

// Σ_b d_w · d_a · S_b in float64, from the stored bytes: S_b = Σ_j (w_j − 8) · q_j for Q4_0, and
// Σ_j w_j · (q_j + r_j / 256) for Q8_0.
double ExactDot(DType type, const std::vector<uint8_t>& row, const std::vector<Q8Act>& x) {
  double sum = 0;
  const int64_t block_bytes = type == DType::kQ4_0 ? 18 : 34;
  for (size_t b = 0; b < x.size(); ++b) {
    const uint8_t* block = row.data() + block_bytes * b;
    uint16_t h;
    std::memcpy(&h, block, 2);
    double block_sum = 0;
    if (type == DType::kQ4_0) {
      for (int j = 0; j < 16; ++j) {
        block_sum += ((block[2 + j] & 0x0f) - 8) * x[b].q[j];
        block_sum += ((block[2 + j] >> 4) - 8) * x[b].q[j + 16];
      }
    } else {
      for (int j = 0; j < 32; ++j) {
        block_sum += static_cast<int8_t>(block[2 + j]) * (x[b].q[j] + x[b].r[j] / 256.0);
      }
    }
    sum += static_cast<double>(F16ToF32(h)) * x[b].d * block_sum;
  }
  return sum;
}

TEST(IntegerDotTest, TheReferencesMatchTheExactSumOfTheirRoundedInputs) {
  for (DType type : kIntegerTypes) {
    for (int64_t n : {32, 64, 96, 32 * 33, 32 * 129}) {
      const auto row = QuantizedRow(type, RandomFloats(n, 2));
      const auto x = Rounded(RandomFloats(n, 3));
      const double exact = ExactDot(type, row, x);
      double magnitude = 0;  // Σ |terms|: the scale of f32 rounding in the accumulation
      for (size_t b = 0; b < x.size(); ++b) magnitude += std::fabs(x[b].d) * 128 * 128 * 32;
      float out = 0;
      SupportedSets(type)[0].dot_q8_tokens(1)(row.data(), x.data(), 0, n, &out, 0);
      EXPECT_NEAR(out, exact, 1e-6 * magnitude) << Name(type) << " n=" << n;
    }
  }
}

// A row-major matrix of random rows.
std::vector<uint8_t> QuantizedMatrix(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::vector<uint8_t> m;
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = QuantizedRow(type, RandomFloats(cols, seed + static_cast<uint32_t>(r)));
    m.insert(m.end(), row.begin(), row.end());
  }
  return m;
}

struct Interleaved {
  std::unique_ptr<uint8_t, void (*)(void*)> bytes{nullptr, std::free};
  MatrixView view;
};

Interleaved Interleave(const MatrixView& w) {
  Interleaved out;
  const int64_t bytes = InterleavedBytes(w);
  out.bytes.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  out.view = InterleaveRows(w, out.bytes.get());
  return out;
}

TEST(InterleavedLayoutTest, OnlyQ4_0AndQ8_0MatricesOf16RowsOrMoreAreInterleaved) {
  EXPECT_EQ(InterleavedBytes({DType::kQ4_0, 15, 64, nullptr}), 0);
  EXPECT_EQ(InterleavedBytes({DType::kF16, 64, 64, nullptr}), 0);
  EXPECT_EQ(InterleavedBytes({DType::kQ4_0, 16, 64, nullptr, RowLayout::kInterleaved16}), 0);
  // 2 blocks × 16 rows × 18 bytes = 576 = 9 cache lines: one pair, 64 bytes of scales and 2 × 256
  // of quants. 9 blocks (288 columns) are 5 pairs, the last without its second block's quants:
  // 5 · 64 + 9 · 256 = 2624 bytes a group, and the 3 rows after the last group stay row-major.
  EXPECT_EQ(InterleavedBytes({DType::kQ4_0, 16, 64, nullptr}), 576);
  EXPECT_EQ(InterleavedBytes({DType::kQ4_0, 35, 288, nullptr}), 2 * 2624 + 3 * 9 * 18);
  // Q8_0: 5 · 64 + 9 · 512 = 4928.
  EXPECT_EQ(InterleavedBytes({DType::kQ8_0, 35, 288, nullptr}), 2 * 4928 + 3 * 9 * 34);
}

TEST(InterleavedLayoutTest, AGroupIsItsPairsOfBlocksScalesFirstInReadingOrder) {
  // 16 rows of 3 Q8_0 blocks, every row's block b holding d = b + 1 and quants 16·b + j (stored
  // plus 128): pair 0 is [scales 0][scales 1][quants 0][quants 1], pair 1 [scales 2][zeros]
  // [quants 2].
  const int64_t cols = 96;
  std::vector<uint8_t> m(kGroupRows * RowBytes(DType::kQ8_0, cols));
  for (int64_t r = 0; r < kGroupRows; ++r) {
    for (int64_t b = 0; b < 3; ++b) {
      uint8_t* block = m.data() + r * RowBytes(DType::kQ8_0, cols) + b * 34;
      const uint16_t d = F32ToF16(static_cast<float>(b + 1));
      std::memcpy(block, &d, 2);
      for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(16 * b + j);
    }
  }
  const Interleaved group = Interleave({DType::kQ8_0, kGroupRows, cols, m.data()});
  const uint8_t* bytes = group.bytes.get();
  ASSERT_EQ(InterleavedBytes({DType::kQ8_0, kGroupRows, cols, nullptr}), 2 * 64 + 3 * 512);
  const int64_t scales_at[3] = {0, 32, 1088}, quants_at[3] = {64, 576, 1152};
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t i = 0; i < kGroupRows; ++i) {
      uint16_t d;
      std::memcpy(&d, bytes + scales_at[b] + 2 * i, 2);
      ASSERT_EQ(F16ToF32(d), static_cast<float>(b + 1)) << "block " << b << " row " << i;
      for (int j = 0; j < 32; ++j) {
        // Chunk j / 4 holds elements 4·(j/4) … of every row, 4 bytes a row.
        const uint8_t stored = bytes[quants_at[b] + 64 * (j / 4) + 4 * i + j % 4];
        ASSERT_EQ(stored, static_cast<uint8_t>((16 * b + j) ^ 0x80)) << "block " << b << " row "
                                                                       << i << " element " << j;
      }
    }
  }
  for (int64_t k = 1088 + 32; k < 1152; ++k) ASSERT_EQ(bytes[k], 0) << "padding byte " << k;
}

TEST(InterleavedLayoutTest, EveryRowReadsBackAsTheRowMajorRow) {
  for (DType type : kIntegerTypes) {
    for (int64_t rows : {16, 35, 64}) {
      for (int64_t cols : {32, 288, 768}) {
        const auto m = QuantizedMatrix(type, rows, cols, 50);
        const MatrixView row_major{type, rows, cols, m.data()};
        const Interleaved interleaved = Interleave(row_major);
        EXPECT_EQ(interleaved.view.layout, RowLayout::kInterleaved16);
        std::vector<float> expected(cols), got(cols);
        for (int64_t r = 0; r < rows; ++r) {
          RowToFloats(row_major, r, expected.data());
          RowToFloats(interleaved.view, r, got.data());
          ASSERT_EQ(got, expected) << Name(type) << " " << rows << "x" << cols << " row " << r;
        }
      }
    }
  }
}

TEST(IntegerDotTest, EveryIsasGroupKernelGivesTheReferencesBitsForEachRowAndToken) {
  for (DType type : kIntegerTypes) {
    for (int64_t n : {32, 96, 288, 32 * 33}) {
      const auto m = QuantizedMatrix(type, kGroupRows, n, 60);
      const Interleaved group = Interleave({type, kGroupRows, n, m.data()});
      const int64_t stride = n / 32 + 1;  // token rows need not be packed
      std::vector<Q8Act> x(kernels::kMaxTokensPerKernel * stride);
      for (int t = 0; t < kernels::kMaxTokensPerKernel; ++t) {
        const auto values = RandomFloats(n, 70 + t);
        kernels::QuantizeActivations(values.data(), n, x.data() + t * stride);
      }
      const std::vector<KernelSet> sets = SupportedSets(type);
      const int64_t row_bytes = RowBytes(type, n);
      for (const KernelSet& set : sets) {
        for (int count = 1; count <= kernels::kMaxTokensPerKernel; ++count) {
          const int64_t out_stride = kGroupRows + 1;
          std::vector<float> out(count * out_stride, -1.0f);
          set.dot_q8_group_tokens(count)(group.bytes.get(), x.data(), stride, n, out.data(),
                                         out_stride);
          for (int t = 0; t < count; ++t) {
            for (int r = 0; r < kGroupRows; ++r) {
              float alone = 0;
              sets[0].dot_q8_tokens(1)(m.data() + r * row_bytes, x.data() + t * stride, 0, n,
                                       &alone, 0);
              ASSERT_EQ(out[t * out_stride + r], alone)
                  << Name(type) << " n=" << n << " row " << r << " token " << t << " of " << count;
            }
            ASSERT_EQ(out[t * out_stride + kGroupRows], -1.0f) << "wrote past its 16 rows";
          }
        }
      }
    }
  }
}

TEST(IntegerDotTest, InterleavedMatMulEqualsRowMajorDotRowsAtAnyThreadCount) {
  const int64_t cols = 32 * 9;
  ThreadPool two(2);
  for (DType type : kIntegerTypes) {
    for (int64_t rows : {16, 35, 100}) {
      const auto m = QuantizedMatrix(type, rows, cols, 80);
      const MatrixView row_major{type, rows, cols, m.data()};
      const Interleaved interleaved = Interleave(row_major);
      for (int64_t tokens : {1, 5, 9}) {
        const auto x = RandomFloats(tokens * cols, 90);
        std::vector<float> expected(tokens * rows);
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            expected[t * rows + r] = DotRow(type, row_major.row(r), x.data() + t * cols, cols);
          }
        }
        for (const KernelSet& set : SupportedSets(type)) {
          for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two}) {
            std::vector<float> y(tokens * rows, -1.0f);
            kernels::MatMulWith(set, interleaved.view, x.data(), tokens, y.data(), pool);
            ASSERT_EQ(y, expected) << Name(type) << " " << rows << " rows, " << tokens << " tokens";
          }
        }
      }
    }
  }
}

TEST(IntegerDotTest, SharedMatMulSplitsGroupsAcrossUnalignedMatrixBoundaries) {
  // Rows end to end: 35 + 40 + 16, so later matrices' groups start at rows 35 and 75 of the range
  // the threads split in chunks of 16. Q4_0 and Q8_0 matrices share one pass.
  const int64_t cols = 64, tokens = 3;
  const int64_t row_counts[] = {35, 40, 16};
  const DType types[] = {DType::kQ4_0, DType::kQ8_0, DType::kQ4_0};
  std::vector<std::vector<uint8_t>> matrices;
  std::vector<Interleaved> interleaved;
  for (int i = 0; i < 3; ++i) {
    matrices.push_back(QuantizedMatrix(types[i], row_counts[i], cols, 100 + i));
    interleaved.push_back(Interleave({types[i], row_counts[i], cols, matrices.back().data()}));
  }
  const auto x = RandomFloats(tokens * cols, 110);
  ThreadPool two(2);
  std::vector<std::vector<float>> shared(3), alone(3);
  std::vector<MatMulTarget> targets;
  for (int i = 0; i < 3; ++i) {
    shared[i].assign(tokens * row_counts[i], -1.0f);
    alone[i].assign(tokens * row_counts[i], -2.0f);
    targets.push_back({interleaved[i].view, shared[i].data()});
    MatMul(interleaved[i].view, x.data(), tokens, alone[i].data(), nullptr);
  }
  MatMulShared(targets, x.data(), tokens, &two);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(shared[i], alone[i]) << "matrix " << i;
}

TEST(Q4_0KernelTest, RoundingTheActivationsCostsAtMostHalfAStepPerWeight) {
  // |Σ w·x − Σ w·x̂| ≤ Σ_b (d_b / 2) Σ_{j∈b} |w_j|, with w the dequantised weights.
  const int64_t n = 32 * 64;
  const auto row = QuantizedRow(DType::kQ4_0, RandomFloats(n, 8));
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

TEST(Q8_0KernelTest, RoundingTheActivationsCostsAtMostHalfAResidualStepPerWeight) {
  // |Σ w·x − Σ w·x̂| ≤ Σ_b (d_b / 512) Σ_{j∈b} |w_j|, plus f32 rounding of the sum.
  const int64_t n = 32 * 64;
  const auto row = QuantizedRow(DType::kQ8_0, RandomFloats(n, 8));
  const auto x = RandomFloats(n, 9);
  std::vector<float> w(n);
  DequantizeRow(DType::kQ8_0, row.data(), n, w.data());
  const auto blocks = Rounded(x);
  double exact = 0, bound = 0, magnitude = 0;
  for (int64_t i = 0; i < n; ++i) {
    exact += static_cast<double>(w[i]) * x[i];
    bound += blocks[i / 32].d / 512 * std::fabs(w[i]);
    magnitude += std::fabs(static_cast<double>(w[i]) * x[i]);
  }
  const float got = DotRow(DType::kQ8_0, row.data(), x.data(), n);
  EXPECT_LE(std::fabs(got - exact), bound * 1.001 + 1e-6 * magnitude);
  EXPECT_GT(bound, 0);
}

}  // namespace
}  // namespace kvik
