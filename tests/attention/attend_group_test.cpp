#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "attention/filled_cache.h"
#include "attention/group_kernels.h"
#include "kvik/attention.h"

namespace kvik {
namespace {

using attention::AttendGroupWith;
using attention::GroupKernels;

constexpr DType kAllTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};

struct NamedKernels {
  std::string name;
  GroupKernels kernels;
};

// Every kernel set this CPU runs (whatever $KVIK_ISA says), to hold each to the same contract.
std::vector<NamedKernels> AvailableKernels() {
  std::vector<NamedKernels> all = {{"scalar", attention::ScalarGroupKernels()}};
  if (auto k = attention::Avx2GroupKernels()) all.push_back({"avx2", k});
  if (auto k = attention::Avx512GroupKernels()) all.push_back({"avx512", k});
  return all;
}

using Filled = testing::FilledCache;

Filled Fill(int64_t n, int64_t head_dim, int64_t block_size, DType dtype, uint32_t seed) {
  return testing::FillCache(n, head_dim, block_size, dtype, seed);
}

std::vector<float> Queries(int64_t n_heads, int64_t head_dim, uint32_t seed) {
  return testing::RandomQueries(n_heads, head_dim, seed);
}

void ExpectMatchesReference(const GroupKernels& kernels, const KvHeadView& view, int64_t first,
                            int64_t end, int64_t n_heads, const std::string& what) {
  const int64_t n = view.head_dim;
  const auto q = Queries(n_heads, n, static_cast<uint32_t>(end + n_heads));
  std::vector<float> out(n_heads * n), ref(n);
  AttendGroupWith(kernels, view, first, end, q.data(), n_heads, out.data());
  for (int64_t h = 0; h < n_heads; ++h) {
    AttendHeadReference(view, first, end, q.data() + h * n, ref.data());
    for (int64_t d = 0; d < n; ++d) {
      ASSERT_NEAR(out[h * n + d], ref[d], 1e-5f * (1 + std::fabs(ref[d])))
          << what << " head=" << h << " d=" << d;
    }
  }
}

TEST(AttendGroupTest, EveryHeadOfTheGroupMatchesTheTwoPassReference) {
  for (const auto& [isa, kernels] : AvailableKernels()) {
    for (int64_t head_dim : {32, 48, 64}) {
      if (head_dim % kernels.head_dim_multiple != 0) continue;
      for (DType dtype : kAllTypes) {
        if (head_dim % Info(dtype).block_elements != 0) continue;  // Q8_0/Q4_0: multiples of 32
        for (int64_t n : {1, 2, 31, 32, 33, 77, 300}) {
          Filled f = Fill(n, head_dim, 16, dtype, static_cast<uint32_t>(n + head_dim));
          for (int64_t group : {1, 2, 3, 4}) {
            ExpectMatchesReference(
                kernels, f.view(), 0, n, group,
                isa + " " + std::string(Name(dtype)) + " head_dim=" + std::to_string(head_dim) +
                    " n=" + std::to_string(n) + " group=" + std::to_string(group));
          }
        }
      }
    }
  }
}

TEST(AttendGroupTest, SlidingWindowStartsAnywhereInsideABlock) {
  for (const auto& [isa, kernels] : AvailableKernels()) {
    for (DType dtype : kAllTypes) {
      Filled f = Fill(200, 64, 16, dtype, 9);
      for (int64_t first : {1, 15, 16, 17, 150, 199}) {
        ExpectMatchesReference(
            kernels, f.view(), first, 200, 3,
            isa + " " + std::string(Name(dtype)) + " first=" + std::to_string(first));
      }
    }
  }
}

TEST(AttendGroupTest, AnyHeadDimWorksForUnquantisedTypes) {
  // head_dims the widest kernels do not divide fall back to narrower ones (or scalar) through
  // AttendGroup; each kernel set is checked on the sizes it accepts.
  for (int64_t head_dim : {1, 8, 20, 24, 36, 40, 80, 96, 100, 128}) {
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
      Filled f = Fill(70, head_dim, 16, dtype, 4);
      const auto q = Queries(2, head_dim, 5);
      std::vector<float> out(2 * head_dim), ref(head_dim);
      AttendGroup(f.view(), 3, 70, q.data(), 2, out.data());
      for (int64_t h = 0; h < 2; ++h) {
        AttendHeadReference(f.view(), 3, 70, q.data() + h * head_dim, ref.data());
        for (int64_t d = 0; d < head_dim; ++d) {
          ASSERT_NEAR(out[h * head_dim + d], ref[d], 1e-5f * (1 + std::fabs(ref[d])))
              << Name(dtype) << " head_dim=" << head_dim << " head=" << h << " d=" << d;
        }
      }
      for (const auto& [isa, kernels] : AvailableKernels()) {
        if (head_dim % kernels.head_dim_multiple != 0) continue;
        ExpectMatchesReference(
            kernels, f.view(), 3, 70, 3,
            isa + " " + std::string(Name(dtype)) + " head_dim=" + std::to_string(head_dim));
      }
    }
  }
}

TEST(AttendGroupTest, LargestHeadDimWorks) {
  for (const auto& [isa, kernels] : AvailableKernels()) {
    for (DType dtype : {DType::kF32, DType::kQ8_0}) {
      Filled f = Fill(40, kMaxHeadDim, 16, dtype, 6);
      ExpectMatchesReference(kernels, f.view(), 0, 40, 4, isa + " " + std::string(Name(dtype)));
    }
  }
}

// What makes "prefill == decode" independent of how heads are grouped: a head's bits do not depend
// on the other heads of the call, nor on the register blocking of heads (groups above 4, and above
// kMaxGroup, take several blocks and passes).
TEST(AttendGroupTest, AHeadInAGroupIsBitIdenticalToTheHeadAlone) {
  for (const auto& [isa, kernels] : AvailableKernels()) {
    for (DType dtype : kAllTypes) {
      // n = 128: the AVX-512 kernels read whole rows there, up to 3 heads a pass.
      for (int64_t n : {64, 128}) {
        for (int64_t group : {2, 3, 4, 5, 7, 8, 20}) {
          Filled f = Fill(97, n, 16, dtype, 8);
          const auto q = Queries(group, n, 3);
          std::vector<float> out(group * n), alone(n);
          AttendGroupWith(kernels, f.view(), 5, 97, q.data(), group, out.data());
          for (int64_t h = 0; h < group; ++h) {
            AttendGroupWith(kernels, f.view(), 5, 97, q.data() + h * n, 1, alone.data());
            ASSERT_EQ(0, std::memcmp(alone.data(), out.data() + h * n, sizeof(float) * n))
                << isa << " " << Name(dtype) << " n=" << n << " group=" << group << " head=" << h;
          }
        }
      }
    }
  }
}

// Prefill's many rows share one conversion of the cached rows; each row must still get exactly what
// attending alone gives it, with a causal end and a sliding window (first > 0), for every type
// (f32 is read in place; a row alone reads f16 in place too, where the ISA's kernels can) and for
// mixed key/value types, at 64 and 128 dims.
TEST(AttendGroupTest, RowsOfAPrefillChunkAreBitIdenticalToEachRowAlone) {
  for (DType dtype : kAllTypes) {
    for (auto [n, window] : {std::pair<int64_t, int64_t>{64, 0}, {64, 37}, {128, 37}}) {
      const int64_t group = 3, rows = 21, context = 150;
      Filled f = Fill(context, n, 16, dtype, 12);
      KvHeadView view = f.view();
      view.sliding_window = window;
      std::vector<int64_t> first(rows), end(rows);
      for (int64_t r = 0; r < rows; ++r) {
        end[r] = context - rows + r + 1;
        first[r] = view.first_visible(end[r] - 1);
      }
      const int64_t stride = group * n + 5;  // rows need not be packed
      const auto q = Queries(rows * stride / n + 1, n, 4);
      std::vector<float> together(rows * stride, -1.0f), alone(group * n);
      AttendGroupRows(view, first, end, q.data(), stride, group, together.data(), stride);
      for (int64_t r = 0; r < rows; ++r) {
        AttendGroup(view, first[r], end[r], q.data() + r * stride, group, alone.data());
        ASSERT_EQ(
            0, std::memcmp(alone.data(), together.data() + r * stride, sizeof(float) * group * n))
            << Name(dtype) << " n=" << n << " window=" << window << " row=" << r;
        ASSERT_EQ(together[r * stride + group * n], -1.0f) << "wrote past its heads";
      }
    }
  }
}

// PagedAttention must not change a single bit: the same rows in blocks of 1, 16 or 64 tokens — or
// in one block as large as the sequence (a dense cache) — give identical outputs.
TEST(AttendGroupTest, PagedOutputIsBitIdenticalToDenseForEveryBlockSize) {
  for (const auto& [isa, kernels] : AvailableKernels()) {
    for (DType dtype : kAllTypes) {
      for (int64_t n : {1, 15, 16, 17, 100, 333}) {
        const auto q = Queries(3, 64, 11);
        const int64_t first = n / 3;  // a window start inside a block, too
        Filled dense = Fill(n, 64, n, dtype, 5);
        std::vector<float> expected(3 * 64), out(3 * 64);
        AttendGroupWith(kernels, dense.view(), first, n, q.data(), 3, expected.data());
        for (int64_t block : {1, 16, 64}) {
          Filled paged = Fill(n, 64, block, dtype, 5);
          AttendGroupWith(kernels, paged.view(), first, n, q.data(), 3, out.data());
          ASSERT_EQ(0, std::memcmp(out.data(), expected.data(), sizeof(float) * out.size()))
              << isa << " " << Name(dtype) << " n=" << n << " block=" << block;
        }
      }
    }
  }
}

// Several KV heads in one call (a thread's share of a layer) give each head the bits of its own
// AttendGroup call, however many KV heads share the pass (more than fit one pass, too).
TEST(AttendGroupTest, SeveralKvHeadsTogetherAreBitIdenticalToOneAtATime) {
  constexpr int64_t kKvHeads = 7, kHeadDim = 64;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t group : {1, 3, 5}) {
      KvCacheOptions options;
      options.shape = {2, kKvHeads, kHeadDim, dtype, dtype};
      options.block_size = 16;
      options.n_blocks = KvCacheOptions::BlocksFor(90, 1, 16);
      auto cache = KvCache::Create(options).value();
      const SequenceId seq = cache->AddSequence();
      ASSERT_TRUE(cache->Reserve(seq, 90).ok());
      std::mt19937 rng(4);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> k(kKvHeads * kHeadDim), v(kKvHeads * kHeadDim);
      for (int64_t p = 0; p < 90; ++p) {
        for (int64_t layer = 0; layer < 2; ++layer) {
          for (auto& x : k) x = normal(rng);
          for (auto& x : v) x = normal(rng);
          cache->Store(seq, layer, p, k.data(), v.data());
        }
      }
      cache->Commit(seq, std::vector<int32_t>(90, 1));
      std::vector<KvHeadView> views;
      for (int64_t h = 0; h < kKvHeads; ++h) views.push_back(cache->HeadView(seq, 1, h));
      const auto q = Queries(kKvHeads * group, kHeadDim, 6);
      std::vector<float> together(q.size()), alone(group * kHeadDim);
      AttendGroups(views, 9, 90, q.data(), group, together.data());
      for (int64_t h = 0; h < kKvHeads; ++h) {
        AttendGroup(views[h], 9, 90, q.data() + h * group * kHeadDim, group, alone.data());
        ASSERT_EQ(0, std::memcmp(alone.data(), together.data() + h * group * kHeadDim,
                                 sizeof(float) * alone.size()))
            << Name(dtype) << " group=" << group << " kv_head=" << h;
      }
    }
  }
}

TEST(AttendGroupTest, AttendHeadIsTheGroupOfOne) {
  Filled f = Fill(100, 64, 16, DType::kF16, 3);
  const auto q = Queries(1, 64, 2);
  std::vector<float> head(64), group(64);
  AttendHead(f.view(), 10, 100, q.data(), head.data());
  AttendGroup(f.view(), 10, 100, q.data(), 1, group.data());
  EXPECT_EQ(0, std::memcmp(head.data(), group.data(), sizeof(float) * 64));
}

}  // namespace
}  // namespace kvik
