#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace kvik {
namespace {

TEST(ThreadPoolTest, ParallelForCoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
      }, 4);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPoolTest, RangesStartOnGrainBoundaries) {
  ThreadPool pool(3);
  std::atomic<bool> aligned{true};
  pool.ParallelFor(100, [&](int64_t b, int64_t) { if (b % 16 != 0) aligned = false; }, 16);
  EXPECT_TRUE(aligned);
}

TEST(ThreadPoolTest, SurvivesManySmallJobsInARow) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int i = 0; i < 2000; ++i) pool.ParallelFor(10, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 20000);
}

}  // namespace
}  // namespace kvik
