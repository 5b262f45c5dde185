// Every ISA's kernels on this CPU (scalar, AVX2, AVX-512), with and without the streaming prefetch,
// against the scalar reference, and the token-batched MatMul against one-token MatVec bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "util/thread_pool.h"
#include "tensor/random_floats.h"

namespace kvik {
namespace {

using kernels::Isa;
using kernels::KernelSet;
using kernels::Prefetch;

using testing::RandomFloats;

std::vector<uint8_t> Quantized(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  const auto values = RandomFloats(rows * cols, seed);
  std::vector<uint8_t> out(RowBytes(type, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    QuantizeRow(type, values.data() + r * cols, cols, out.data() + r * RowBytes(type, cols));
  return out;
}

bool IsBlocked(DType type) { return Info(type).block_elements > 1; }

// Lengths around SIMD widths (8, 16, 32, 64) and blocks, plus a long odd one.
std::vector<int64_t> OddLengths(DType type) {
  if (IsBlocked(type)) return {32, 64, 96, 160, 32 * 33, 32 * 129};
  return {1, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 4097};
}

struct Case {
  Isa isa;
  DType type;
  Prefetch prefetch;
};

class IsaKernelTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().isa == Isa::kAvx2 && !kernels::CpuHasAvx2()) GTEST_SKIP() << "no AVX2";
    if (GetParam().isa == Isa::kAvx512 && !kernels::CpuHasAvx512()) GTEST_SKIP() << "no AVX-512";
  }
  // This ISA's own kernels (KernelsFor may route a type to another ISA's).
  KernelSet Kernels() const {
    switch (GetParam().isa) {
      case Isa::kAvx512:
        return kernels::Avx512Kernels(GetParam().type, GetParam().prefetch);
      case Isa::kAvx2:
        return kernels::Avx2Kernels(GetParam().type, GetParam().prefetch);
      default:
        return kernels::ScalarKernels(GetParam().type);
    }
  }
};

TEST_P(IsaKernelTest, DotMatchesScalarReferenceOnOddLengths) {
  const DType type = GetParam().type;
  const KernelSet set = Kernels();
  ASSERT_NE(set.dot, nullptr);
  for (int64_t n : OddLengths(type)) {
    const auto row = Quantized(type, 1, n, 11);
    const auto x = RandomFloats(n, 12);
    const float fast = set.dot(row.data(), x.data(), n);
    const float reference = DotRowScalar(type, row.data(), x.data(), n);
    // Summation order differs from the reference; the error grows like sqrt(n) * eps * |terms|.
    EXPECT_NEAR(fast, reference,
                2e-5f * std::sqrt(static_cast<float>(n)) * (1.0f + std::fabs(reference)))
        << Name(type) << " n=" << n;
  }
}

TEST_P(IsaKernelTest, TokenBatchedKernelEqualsOneTokenDotBitForBit) {
  const DType type = GetParam().type;
  const KernelSet set = Kernels();
  if (!set.dot_tokens) {
    GTEST_SKIP() << (set.dot_q8_tokens ? "batched over rounded activations: integer_dot_test.cpp"
                                       : "this ISA has no token-batched kernels");
  }
  for (int64_t n : OddLengths(type)) {
    const auto row = Quantized(type, 1, n, 13);
    const int64_t x_stride = n + 3;  // tokens need not be packed
    const auto x = RandomFloats(kernels::kMaxTokensPerKernel * x_stride, 14);
    for (int count = 1; count <= kernels::kMaxTokensPerKernel; ++count) {
      std::vector<float> out(2 * count, -1.0f);
      set.dot_tokens(count)(row.data(), x.data(), x_stride, n, out.data(), 2);
      for (int t = 0; t < count; ++t) {
        ASSERT_EQ(out[2 * t], set.dot(row.data(), x.data() + t * x_stride, n))
            << Name(type) << " n=" << n << " token " << t << " of " << count;
        ASSERT_EQ(out[2 * t + 1], -1.0f) << "wrote outside its output stride";
      }
    }
  }
}

TEST_P(IsaKernelTest, RowsAndTokensKernelEqualsOneRowOneTokenDotBitForBit) {
  const DType type = GetParam().type;
  const KernelSet set = Kernels();
  if (!set.dot_rows_tokens) GTEST_SKIP() << "this ISA and type have no rows-and-tokens kernel";
  for (int64_t n : OddLengths(type)) {
    const int64_t row_bytes = RowBytes(type, n) + 64;  // rows need not be packed
    std::vector<uint8_t> rows(set.rows_per_kernel * row_bytes);
    for (int r = 0; r < set.rows_per_kernel; ++r) {
      const auto row = Quantized(type, 1, n, 20 + r);
      std::copy(row.begin(), row.end(), rows.begin() + r * row_bytes);
    }
    const int64_t x_stride = n + 5;
    const auto x = RandomFloats(kernels::kMaxTokensPerKernel * x_stride, 15);
    for (int count = 1; count <= kernels::kMaxTokensPerKernel; ++count) {
      const int64_t out_stride = set.rows_per_kernel + 1;
      std::vector<float> out(count * out_stride, -1.0f);
      set.dot_rows_tokens(count)(rows.data(), row_bytes, x.data(), x_stride, n, out.data(),
                                 out_stride);
      for (int t = 0; t < count; ++t) {
        for (int r = 0; r < set.rows_per_kernel; ++r) {
          ASSERT_EQ(out[t * out_stride + r],
                    set.dot(rows.data() + r * row_bytes, x.data() + t * x_stride, n))
              << Name(type) << " n=" << n << " row " << r << " token " << t << " of " << count;
        }
        ASSERT_EQ(out[t * out_stride + set.rows_per_kernel], -1.0f) << "wrote past its rows";
      }
    }
  }
}

TEST_P(IsaKernelTest, MatMulEqualsMatVecBitForBitForAnyTokenAndThreadCount) {
  const DType type = GetParam().type;
  const KernelSet set = Kernels();
  // Shapes: a single row, rows not a multiple of the 16-row tile, and one large enough to be split
  // across threads (rows * cols >= 2^16).
  const int64_t unit = IsBlocked(type) ? 32 : 1;
  const struct {
    int64_t rows, cols;
  } shapes[] = {{1, 3 * unit + (unit == 1 ? 30 : 0)},
                {37, 5 * unit + (unit == 1 ? 92 : 0)},
                {131, 16 * unit + (unit == 1 ? 499 : 0)}};
  for (const auto& shape : shapes) {
    const auto w = Quantized(type, shape.rows, shape.cols, 15);
    const MatrixView view{type, shape.rows, shape.cols, w.data()};
    const auto x = RandomFloats(9 * shape.cols, 16);
    std::vector<std::vector<float>> single(9, std::vector<float>(shape.rows));
    for (int64_t t = 0; t < 9; ++t) {
      kernels::MatMulWith(set, view, x.data() + t * shape.cols, 1, single[t].data(), nullptr);
      for (int64_t r = 0; r < shape.rows; ++r) {
        ASSERT_EQ(single[t][r], set.dot(w.data() + r * RowBytes(type, shape.cols),
                                        x.data() + t * shape.cols, shape.cols))
            << Name(type) << " MatVec differs from the row's dot product at r=" << r;
      }
    }
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (int64_t n_tokens = 1; n_tokens <= 9; ++n_tokens) {
        std::vector<float> batched(n_tokens * shape.rows);
        kernels::MatMulWith(set, view, x.data(), n_tokens, batched.data(), &pool);
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < shape.rows; ++r) {
            ASSERT_EQ(batched[t * shape.rows + r], single[t][r])
                << Name(type) << " " << shape.rows << "x" << shape.cols << " tokens=" << n_tokens
                << " threads=" << threads << " t=" << t << " r=" << r;
          }
        }
      }
    }
  }
}

TEST_P(IsaKernelTest, RowBlockedMatMulEqualsPerTokenDotsBitForBit) {
  // From 17 tokens MatMul calls the rows-and-tokens kernel; 37 and 131 rows leave every remainder
  // of 1 to 3 rows after its calls in some tile, and 3 threads split the rows off tile bounds.
  const DType type = GetParam().type;
  const KernelSet set = Kernels();
  const int64_t cols = IsBlocked(type) ? 5 * 32 : 93, n_tokens = 23;
  for (int64_t rows : {37, 131}) {
    const auto w = Quantized(type, rows, cols, 23);
    const auto x = RandomFloats(n_tokens * cols, 24);
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      std::vector<float> y(n_tokens * rows);
      kernels::MatMulWith(set, {type, rows, cols, w.data()}, x.data(), n_tokens, y.data(), &pool);
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          ASSERT_EQ(y[t * rows + r],
                    set.dot(w.data() + r * RowBytes(type, cols), x.data() + t * cols, cols))
              << Name(type) << " rows=" << rows << " threads=" << threads << " t=" << t
              << " r=" << r;
        }
      }
    }
  }
}

TEST_P(IsaKernelTest, MatMulOverMoreTokensThanOneScratchChunkEqualsPerTokenDots) {
  // 4100 f32 per token: the 1 MiB scratch holds 63 tokens, so 70 tokens take two chunks.
  const DType type = GetParam().type;
  const KernelSet set = Kernels();
  const int64_t rows = 3, cols = IsBlocked(type) ? 4096 + 32 : 4097, n_tokens = 70;
  const auto w = Quantized(type, rows, cols, 19);
  const auto x = RandomFloats(n_tokens * cols, 20);
  std::vector<float> y(n_tokens * rows);
  kernels::MatMulWith(set, {type, rows, cols, w.data()}, x.data(), n_tokens, y.data(), nullptr);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_EQ(y[t * rows + r],
                set.dot(w.data() + r * RowBytes(type, cols), x.data() + t * cols, cols))
          << Name(type) << " t=" << t << " r=" << r;
    }
  }
}

std::string CaseName(const Case& c) {
  return std::string(kernels::IsaName(c.isa)) + "_" + std::string(Name(c.type)) +
         (c.prefetch == Prefetch::kAhead ? "_prefetch" : "");
}

void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
      cases.push_back({isa, type, Prefetch::kOff});
      if (isa != Isa::kScalar) cases.push_back({isa, type, Prefetch::kAhead});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryIsaAndType, IsaKernelTest, ::testing::ValuesIn(AllCases()),
                         [](const auto& info) { return CaseName(info.param); });

// Row-major Q4_0/Q8_0 rows take the scalar kernel; integer_dot_test.cpp holds every interleaved
// group kernel, prefetching or not, to the reference's bits.
TEST(IsaPrefetchTest, PrefetchingChangesNoBitOfAFloatProduct) {
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (isa == Isa::kAvx2 && !kernels::CpuHasAvx2()) continue;
    if (isa == Isa::kAvx512 && !kernels::CpuHasAvx512()) continue;
    const auto kernels_of = isa == Isa::kAvx512 ? kernels::Avx512Kernels : kernels::Avx2Kernels;
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
      const KernelSet off = kernels_of(type, Prefetch::kOff);
      const KernelSet ahead = kernels_of(type, Prefetch::kAhead);
      // Several times kPrefetchAheadBytes, so the prefetches also run past the matrix's end.
      const int64_t rows = 67, cols = 801;
      const auto w = Quantized(type, rows, cols, 21);
      const MatrixView view{type, rows, cols, w.data()};
      const auto x = RandomFloats(5 * cols, 22);
      for (int64_t n_tokens : {1, 2, 5}) {
        std::vector<float> y_off(n_tokens * rows), y_ahead(n_tokens * rows);
        kernels::MatMulWith(off, view, x.data(), n_tokens, y_off.data(), nullptr);
        kernels::MatMulWith(ahead, view, x.data(), n_tokens, y_ahead.data(), nullptr);
        EXPECT_EQ(y_off, y_ahead) << kernels::IsaName(isa) << " " << Name(type)
                                  << " tokens=" << n_tokens;
      }
    }
  }
}

TEST(IsaDispatchTest, KernelIsaNamesTheSelectedIsa) {
  EXPECT_EQ(KernelIsa(), kernels::IsaName(kernels::SelectedIsa()));
  if (std::getenv("KVIK_ISA") == nullptr) {
    const Isa best = kernels::CpuHasAvx512() ? Isa::kAvx512
                     : kernels::CpuHasAvx2() ? Isa::kAvx2
                                             : Isa::kScalar;
    EXPECT_EQ(kernels::SelectedIsa(), best);
  }
}

TEST(IsaDispatchTest, KvikPrefetchChoosesThePrefetchElseTheCpuVendorDoes) {
  const std::string requested = std::getenv("KVIK_PREFETCH") ? std::getenv("KVIK_PREFETCH") : "";
  __builtin_cpu_init();
  Prefetch expected = __builtin_cpu_is("intel") ? Prefetch::kAhead : Prefetch::kOff;
  if (requested == "0") expected = Prefetch::kOff;
  if (requested == "1") expected = Prefetch::kAhead;
  EXPECT_EQ(kernels::SelectedPrefetch(), expected);
}

TEST(IsaDispatchTest, EverySupportedIsaHasAKernelForEveryComputableType) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa == Isa::kAvx2 && !kernels::CpuHasAvx2()) continue;
    if (isa == Isa::kAvx512 && !kernels::CpuHasAvx512()) continue;
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
      for (Prefetch prefetch : {Prefetch::kOff, Prefetch::kAhead}) {
        EXPECT_NE(kernels::KernelsFor(isa, type, prefetch).dot, nullptr)
            << kernels::IsaName(isa) << Name(type);
      }
    }
  }
}

TEST(IsaDispatchTest, DispatchedMatMulUsesTheSelectedIsasKernels) {
  const int64_t rows = 19, cols = 64;
  const auto w = Quantized(DType::kQ8_0, rows, cols, 17);
  const auto x = RandomFloats(cols, 18);
  const MatrixView view{DType::kQ8_0, rows, cols, w.data()};
  std::vector<float> dispatched(rows), direct(rows);
  MatVec(view, x.data(), dispatched.data(), nullptr);
  kernels::MatMulWith(
      kernels::KernelsFor(kernels::SelectedIsa(), DType::kQ8_0, kernels::SelectedPrefetch()), view,
      x.data(), 1, direct.data(), nullptr);
  EXPECT_EQ(dispatched, direct);
}

}  // namespace
}  // namespace kvik
