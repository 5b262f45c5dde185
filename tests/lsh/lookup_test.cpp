// Lookup behaviour: thresholds, misses, and concurrent readers while the index is swapped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kvik/lsh.h"
#include "lsh_test_util.h"

namespace kvik::lsh {
namespace {

using testing::TempDir;
using testing::WriteFile;

std::shared_ptr<const Index> BuildFrom(const TempDir& dir, const std::string& name,
                                       const std::string& log) {
  WriteFile(dir.File(name + ".tsv"), log);
  BuildOptions options;
  options.log_path = dir.File(name + ".tsv");
  options.out_path = dir.File(name + ".kvlsh");
  auto stats = BuildIndex(options);
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  auto index = Index::Open(options.out_path);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? *index : nullptr;
}

const char* kLog =
    "nike running shoe\t100\nnike running shoes\t40\nrunning shoe nike\t10\n"
    "adidas rain jacket\t90\nadidas rain jackets\t30\n";

TEST(Lookup, UnknownQueriesMiss) {
  TempDir dir;
  auto index = BuildFrom(dir, "a", kLog);
  ASSERT_NE(index, nullptr);
  EXPECT_FALSE(index->Lookup("garden hose reel").has_value());
  EXPECT_FALSE(index->Lookup("").has_value());
  EXPECT_FALSE(index->Lookup("!!!").has_value());
  EXPECT_FALSE(index->BestCandidate("garden hose reel").has_value());
}

TEST(Lookup, MinVotesDecidesBetweenHitAndMiss) {
  TempDir dir;
  auto index = BuildFrom(dir, "a", kLog);
  ASSERT_NE(index, nullptr);
  auto best = index->BestCandidate("nike running shoe red");
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->canonical, "nike running shoe");
  EXPECT_TRUE(index->Lookup("nike running shoe red", best->votes).has_value());
  EXPECT_FALSE(index->Lookup("nike running shoe red", best->votes + 1).has_value());
}

TEST(Lookup, DefaultThresholdIsHalfTheHashFunctions) {
  TempDir dir;
  auto index = BuildFrom(dir, "a", kLog);
  ASSERT_NE(index, nullptr);
  for (const char* query : {"nike running shoe red", "nike shoe", "adidas jacket", "rain jacket"}) {
    auto best = index->BestCandidate(query);
    EXPECT_EQ(index->Lookup(query).has_value(), best.has_value() && best->votes >= 18) << query;
  }
}

TEST(Lookup, ReportsTheIndexShape) {
  TempDir dir;
  auto index = BuildFrom(dir, "a", kLog);
  ASSERT_NE(index, nullptr);
  auto info = index->info();
  EXPECT_EQ(info.num_hashes, 36u);
  EXPECT_EQ(info.queries, 5u);
  EXPECT_EQ(info.clusters, 2u);
  EXPECT_EQ(index->Canonical(0), "nike running shoe");
  EXPECT_EQ(index->ClusterQueryCount(0), 150u);
  EXPECT_EQ(index->Canonical(99), "");
}

TEST(Lookup, ConcurrentLookupsSeeOneWholeIndexWhileItIsSwapped) {
  TempDir dir;
  auto old_index = BuildFrom(dir, "old", kLog);
  auto new_index =
      BuildFrom(dir, "new", "nike running shoe\t5\nnike trail shoe\t500\nnike trail shoes\t90\n");
  ASSERT_NE(old_index, nullptr);
  ASSERT_NE(new_index, nullptr);
  const std::vector<std::string> queries = {"nike running shoes", "adidas rain jacket",
                                            "nike trail shoes"};
  auto describe = [](const std::shared_ptr<const Index>& index, const std::string& q) {
    auto hit = index->Lookup(q);
    return hit ? std::string(hit->canonical) : std::string("-");
  };
  std::vector<std::string> expected_old, expected_new;
  for (const auto& q : queries) {
    expected_old.push_back(describe(old_index, q));
    expected_new.push_back(describe(new_index, q));
  }
  ASSERT_NE(expected_old, expected_new);

  IndexHolder holder(old_index);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, mismatches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto index = holder.Get();  // one snapshot for the whole batch
        std::vector<std::string> got;
        for (const auto& q : queries) got.push_back(describe(index, q));
        mismatches += (got != expected_old && got != expected_new);
        ++lookups;
      }
    });
  }
  // At least 100 swaps, and keep swapping until the readers have done 300 batches, so the
  // swaps really interleave with lookups however the threads are scheduled (10 s at most).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int swap = 0;
       (swap < 100 || lookups.load() < 300) && std::chrono::steady_clock::now() < deadline;
       ++swap) {
    holder.Swap(swap % 2 ? old_index : new_index);
    std::this_thread::yield();
  }
  stop = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_GE(lookups.load(), 300u);
}

TEST(Lookup, ASwappedOutIndexStaysValidForItsLastReader) {
  TempDir dir;
  IndexHolder holder(BuildFrom(dir, "a", kLog));
  auto snapshot = holder.Get();
  holder.Swap(BuildFrom(dir, "b", "garden hose\t3\n"));
  // The holder no longer owns the old index; the reader's snapshot keeps its mapping alive.
  ASSERT_TRUE(snapshot->Lookup("nike running shoes").has_value());
  EXPECT_EQ(snapshot->Lookup("nike running shoes")->canonical, "nike running shoe");
}

}  // namespace
}  // namespace kvik::lsh
