#include "kvik/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "attention/filled_cache.h"

namespace kvik {
namespace {

constexpr int64_t kHeadDim = 64;

using Filled = testing::FilledCache;

Filled Fill(int64_t n, int64_t block_size, DType dtype, uint32_t seed) {
  return testing::FillCache(n, kHeadDim, block_size, dtype, seed);
}

std::vector<float> Query(uint32_t seed) { return testing::RandomQueries(1, kHeadDim, seed); }

TEST(AttendHeadTest, StreamingSoftmaxMatchesTheTwoPassReference) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    for (int64_t n : {1, 2, 31, 32, 33, 100, 1000}) {
      Filled f = Fill(n, 16, dtype, static_cast<uint32_t>(n));
      const auto q = Query(3);
      std::vector<float> out(kHeadDim), ref(kHeadDim);
      const KvHeadView view = f.cache->HeadView(f.seq, 0, 0);
      AttendHead(view, 0, n, q.data(), out.data());
      AttendHeadReference(view, 0, n, q.data(), ref.data());
      for (int64_t d = 0; d < kHeadDim; ++d) {
        ASSERT_NEAR(out[d], ref[d], 1e-5f * (1 + std::fabs(ref[d])))
            << Name(dtype) << " n=" << n << " d=" << d;
      }
    }
  }
}

// PagedAttention must not change a single bit: the same rows in blocks of 1, 16 or 64 tokens — or
// in one block as large as the sequence (a dense cache) — give identical outputs.
TEST(AttendHeadTest, PagedOutputIsBitIdenticalToDenseForEveryBlockSize) {
  for (DType dtype : {DType::kF32, DType::kF16}) {
    for (int64_t n : {1, 15, 16, 17, 100, 333}) {
      const auto q = Query(11);
      Filled dense = Fill(n, n, dtype, 5);
      std::vector<float> expected(kHeadDim);
      const int64_t first = n / 3;  // a window start inside a block, too
      AttendHead(dense.cache->HeadView(dense.seq, 0, 0), first, n, q.data(), expected.data());
      for (int64_t block : {1, 16, 64}) {
        Filled paged = Fill(n, block, dtype, 5);
        std::vector<float> out(kHeadDim);
        AttendHead(paged.cache->HeadView(paged.seq, 0, 0), first, n, q.data(), out.data());
        ASSERT_EQ(0, std::memcmp(out.data(), expected.data(), sizeof(float) * kHeadDim))
            << Name(dtype) << " n=" << n << " block=" << block;
      }
    }
  }
}

TEST(AttendHeadTest, OneVisiblePositionReturnsItsValue) {
  Filled f = Fill(40, 16, DType::kF32, 2);
  const auto q = Query(1);
  std::vector<float> out(kHeadDim);
  const KvHeadView view = f.cache->HeadView(f.seq, 0, 0);
  AttendHead(view, 20, 21, q.data(), out.data());
  EXPECT_EQ(0, std::memcmp(out.data(), view.values.row(20), sizeof(float) * kHeadDim));
}

}  // namespace
}  // namespace kvik
