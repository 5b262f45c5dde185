// gen-log's guarantees and the evaluation's arithmetic on a small generated log.
#include <gtest/gtest.h>

#include <unordered_set>

#include "kvik/lsh.h"
#include "kvik/lsh_eval.h"
#include "lsh_test_util.h"

namespace kvik::lsh {
namespace {

using testing::ReadFile;
using testing::ReadTsvMap;
using testing::TempDir;
using testing::WriteFile;

GenLogOptions SmallLog(const TempDir& dir) {
  GenLogOptions gen;
  gen.seed = 3;
  gen.queries = 3000;
  gen.held_out_queries = 3000;
  gen.out_path = dir.File("train.tsv");
  gen.held_out_path = dir.File("held.tsv");
  gen.truth_path = dir.File("truth.tsv");
  gen.lexicon_path = dir.File("lexicon.tsv");
  return gen;
}

TEST(GenLog, SameSeedGivesTheSameLogs) {
  TempDir a, b;
  ASSERT_TRUE(GenerateLog(SmallLog(a)).ok());
  ASSERT_TRUE(GenerateLog(SmallLog(b)).ok());
  EXPECT_TRUE(ReadFile(a.File("train.tsv")) == ReadFile(b.File("train.tsv")));
  EXPECT_TRUE(ReadFile(a.File("held.tsv")) == ReadFile(b.File("held.tsv")));
}

TEST(GenLog, WritesTheRequestedDistinctLinesAndTruthForAllOfThem) {
  TempDir dir;
  auto stats = GenerateLog(SmallLog(dir));
  ASSERT_TRUE(stats.ok());
  auto train = ReadTsvMap(dir.File("train.tsv")), held = ReadTsvMap(dir.File("held.tsv"));
  auto truth = ReadTsvMap(dir.File("truth.tsv"));
  EXPECT_EQ(train.size(), 3000u);
  EXPECT_EQ(held.size(), 3000u);
  uint64_t requests = 0;
  for (const auto& [query, count] : train) {
    EXPECT_EQ(truth.count(query), 1u) << query;
    requests += count;
  }
  for (const auto& [query, count] : held) EXPECT_EQ(truth.count(query), 1u) << query;
  EXPECT_EQ(requests, stats->train_requests);
}

TEST(GenLog, VariantsOfOneIntentNormalizeDifferentlyButShareTheirTruth) {
  TempDir dir;
  ASSERT_TRUE(GenerateLog(SmallLog(dir)).ok());
  std::unordered_map<uint64_t, std::unordered_set<std::string>> forms;
  for (const auto& [query, intent] : ReadTsvMap(dir.File("truth.tsv")))
    forms[intent].insert(Normalize(query));
  size_t with_variants = 0;
  for (const auto& [intent, normalized] : forms) with_variants += normalized.size() > 1;
  EXPECT_GT(with_variants,
            forms.size() / 4);  // reorders, typos, synonyms, fillers survive normalization
}

TEST(GenLog, RejectsMissingOutputAndZeroQueries) {
  GenLogOptions gen;
  EXPECT_EQ(GenerateLog(gen).status().code(), StatusCode::kInvalidArgument);
  gen.out_path = "/tmp/unused";
  gen.queries = 0;
  EXPECT_EQ(GenerateLog(gen).status().code(), StatusCode::kInvalidArgument);
}

class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = SmallLog(dir_);
    ASSERT_TRUE(GenerateLog(gen).ok());
    BuildOptions build;
    build.log_path = gen.out_path;
    build.out_path = dir_.File("index.kvlsh");
    build.lexicon_path = gen.lexicon_path;
    ASSERT_TRUE(BuildIndex(build).ok());
    options_.index_path = build.out_path;
    options_.log_path = gen.held_out_path;
    options_.truth_path = gen.truth_path;
    options_.svg_path = dir_.File("sweep.svg");
  }
  TempDir dir_;
  EvalOptions options_;
};

TEST_F(EvaluateTest, SemanticCacheBeatsExactMatchWithoutLosingPrecision) {
  auto report = Evaluate(options_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->distinct_queries, 3000u);
  EXPECT_EQ(report->exact_raw.precision, 1.0);
  EXPECT_GE(report->exact_normalized.hit_rate, report->exact_raw.hit_rate);
  EXPECT_GT(report->semantic.hit_rate, report->exact_normalized.hit_rate);
  EXPECT_GT(report->semantic.capacity_gain, report->exact_normalized.capacity_gain);
  // A 3,000-line log gives noisy IDF weights; at 100K–1M lines precision is ≥ 99.5%
  // (docs/semantic-cache.md). This guards against regressions, not the production target.
  EXPECT_GE(report->semantic.precision, 0.97);
  EXPECT_GE(report->oracle.hit_rate, report->semantic.hit_rate - 0.01);
}

TEST_F(EvaluateTest, ReplayArithmeticIsConsistent) {
  auto report = Evaluate(options_);
  ASSERT_TRUE(report.ok());
  for (const EvalRow* row : {&report->exact_raw, &report->semantic, &report->oracle}) {
    EXPECT_EQ(row->hits + row->entries, report->requests) << row->name;  // one miss per key
    EXPECT_EQ(row->head_hits + row->tail_hits, row->hits) << row->name;
    EXPECT_LE(row->correct_hits, row->hits) << row->name;
  }
}

TEST_F(EvaluateTest, SweepCoversVotes12To30AndRaisingTheThresholdNeverAddsHits) {
  auto report = Evaluate(options_);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->sweep.size(), 19u);
  EXPECT_EQ(report->sweep.front().min_votes, 12u);
  EXPECT_EQ(report->sweep.back().min_votes, 30u);
  for (size_t i = 1; i < report->sweep.size(); ++i) {
    EXPECT_LE(report->sweep[i].hit_rate, report->sweep[i - 1].hit_rate + 1e-12);
  }
  std::string svg = SweepSvg(*report);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST_F(EvaluateTest, MalformedTruthFileIsAnErrorNamingTheLine) {
  WriteFile(dir_.File("bad_truth.tsv"), "nike shoe\t1\nbroken line\n");
  options_.truth_path = dir_.File("bad_truth.tsv");
  auto report = Evaluate(options_);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("bad_truth.tsv:2"), std::string::npos)
      << report.status().message();
}

}  // namespace
}  // namespace kvik::lsh
