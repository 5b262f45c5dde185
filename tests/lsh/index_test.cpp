// Build → lookup round trips, brand-swap separation, and the index file's defences.
#include <gtest/gtest.h>

#include "kvik/lsh.h"
#include "kvik/lsh_eval.h"
#include "lsh/index_format.h"
#include "lsh_test_util.h"

namespace kvik::lsh {
namespace {

using testing::ReadFile;
using testing::ReadTsvMap;
using testing::TempDir;
using testing::WriteFile;

const char* kBrands[] = {"nike", "adidas", "puma", "reebok", "asics", "fila", "vans", "umbro"};
const char* kProducts[] = {"trail running shoe", "leather hiking boot", "cotton crew sock",
                           "rain shell jacket", "wool beanie hat"};

// Every brand sells every product, in several surface forms: singular/plural, reordered, cased.
std::string BrandProductLog() {
  std::string log;
  int count = 1000;
  for (const char* brand : kBrands) {
    for (const char* product : kProducts) {
      std::string base = std::string(brand) + " " + product;
      log += base + "\t" + std::to_string(count) + "\n";
      log += base + "s\t" + std::to_string(count / 3) + "\n";
      log += std::string(product) + " " + brand + "\t" + std::to_string(count / 5) + "\n";
      log += std::string(product) + "s by " + brand + "\t" + std::to_string(count / 7) + "\n";
      count -= 17;
    }
  }
  return log;
}

std::string BrandLexicon() {
  std::string lexicon;
  for (const char* brand : kBrands) lexicon += std::string(brand) + "\tbrand\n";
  return lexicon;
}

BuildOptions Options(const TempDir& dir) {
  BuildOptions options;
  options.log_path = dir.File("log.tsv");
  options.out_path = dir.File("index.kvlsh");
  options.members_path = dir.File("members.tsv");
  return options;
}

TEST(Index, EveryVariantMapsToItsBrandProductCanonical) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), BrandProductLog());
  WriteFile(dir.File("lexicon.tsv"), BrandLexicon());
  auto options = Options(dir);
  options.lexicon_path = dir.File("lexicon.tsv");
  auto stats = BuildIndex(options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->clusters, std::size(kBrands) * std::size(kProducts));
  auto index = Index::Open(options.out_path);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  for (const char* brand : kBrands) {
    for (const char* product : kProducts) {
      // Canonicals are normalized ("adidas" is plural-stemmed like any other token).
      std::string canonical = Normalize(std::string(brand) + " " + product);
      for (const std::string& variant :
           {canonical, canonical + "s", std::string(product) + " " + brand,
            "  " + std::string(product) + "S BY " + brand + "!"}) {
        auto hit = (*index)->Lookup(variant);
        ASSERT_TRUE(hit.has_value()) << variant;
        EXPECT_EQ(hit->canonical, canonical) << variant;
        EXPECT_GE(hit->votes, 30u) << variant;  // a bucket crowded past B may drop one
      }
    }
  }
}

TEST(Index, BrandSwapsNeverMergeAtTheDefaultThreshold) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), BrandProductLog());
  WriteFile(dir.File("lexicon.tsv"), BrandLexicon());
  auto options = Options(dir);
  options.lexicon_path = dir.File("lexicon.tsv");
  ASSERT_TRUE(BuildIndex(options).ok());
  auto index = Index::Open(options.out_path);
  ASSERT_TRUE(index.ok());
  // A brand the log never saw must not borrow another brand's results either.
  for (const char* product : kProducts) {
    auto hit = (*index)->Lookup(std::string("newbrand ") + product);
    EXPECT_FALSE(hit.has_value()) << product << " matched " << hit->canonical;
  }
  // Clusters: no cluster holds two brands.
  auto members = ReadTsvMap(options.members_path);
  std::unordered_map<uint64_t, std::string> brand_of_cluster;
  for (const auto& [query, cluster] : members) {
    std::string brand;
    for (const char* b : kBrands) {
      if (query.find(b) != std::string::npos) brand = b;
    }
    auto [it, inserted] = brand_of_cluster.emplace(cluster, brand);
    EXPECT_EQ(it->second, brand) << "cluster " << cluster << " merges brands via '" << query << "'";
  }
}

TEST(Index, GeneratedLogQueriesMapToTheirOwnClusterAndTrueIntent) {
  TempDir dir;
  GenLogOptions gen;
  gen.seed = 5;
  gen.queries = 4000;
  gen.out_path = dir.File("log.tsv");
  gen.truth_path = dir.File("truth.tsv");
  gen.lexicon_path = dir.File("lexicon.tsv");
  ASSERT_TRUE(GenerateLog(gen).ok());
  auto options = Options(dir);
  options.lexicon_path = gen.lexicon_path;
  ASSERT_TRUE(BuildIndex(options).ok());
  auto index = Index::Open(options.out_path);
  ASSERT_TRUE(index.ok());
  auto members = ReadTsvMap(options.members_path);
  auto truth = ReadTsvMap(gen.truth_path);
  std::unordered_map<std::string, uint64_t> normalized_truth;  // canonicals are normalized
  for (const auto& [query, intent] : truth) normalized_truth.try_emplace(Normalize(query), intent);
  size_t own_cluster = 0, right_intent = 0;
  for (const auto& [query, cluster] : members) {
    auto hit = (*index)->Lookup(query);
    if (!hit) continue;
    own_cluster += hit->cluster_id == cluster;
    right_intent += normalized_truth.at(std::string(hit->canonical)) == truth.at(query);
  }
  // Seen queries collide with themselves in all K buckets; only buckets crowded past B can cost
  // one.
  EXPECT_GE(own_cluster, members.size() * 998 / 1000);
  // Clusters are connected components, so a chain of modifier refinements ("x shoe" ~ "x red shoe")
  // can join two true intents; at --votes 22 that costs about 2% of log queries on this log.
  EXPECT_GE(right_intent, members.size() * 97 / 100);
}

TEST(Index, QueriesWithTheSameTokenSetAreHashedOnceAndAlwaysJoin) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), "nike shoe\t5\nShoes Nike\t9\nnike, shoe!\t1\nadidas shoe\t4\n");
  auto stats = BuildIndex(Options(dir));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->queries, 4u);
  EXPECT_EQ(stats->distinct_token_sets, 2u);
  EXPECT_EQ(stats->bucket_records, 2u * 36);
  auto members = ReadTsvMap(dir.File("members.tsv"));
  EXPECT_EQ(members.at("nike shoe"), members.at("Shoes Nike"));
  EXPECT_EQ(members.at("nike shoe"), members.at("nike, shoe!"));
  EXPECT_NE(members.at("nike shoe"), members.at("adidas shoe"));
  auto index = Index::Open(dir.File("index.kvlsh"));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->ClusterQueryCount(members.at("nike shoe")), 15u);
  EXPECT_EQ((*index)->Canonical(members.at("nike shoe")), "shoe nike");  // most frequent member
}

TEST(Index, RebuildingTheSameLogGivesTheSameFile) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), BrandProductLog());
  auto options = Options(dir);
  ASSERT_TRUE(BuildIndex(options).ok());
  std::string first = ReadFile(options.out_path);
  ASSERT_TRUE(BuildIndex(options).ok());
  EXPECT_TRUE(ReadFile(options.out_path) == first);
}

TEST(Index, MalformedLogLinesAreCountedSkippedAndNamed) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"),
            "nike shoe\t10\nno tab here\nadidas shoe\tmany\n\nputa\t-3\n???\t4\npuma boot\t7\n");
  auto stats = BuildIndex(Options(dir));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->lines, 7u);
  EXPECT_EQ(stats->queries, 2u);
  EXPECT_EQ(stats->bad_lines, 4u);
  EXPECT_EQ(stats->empty_queries, 1u);
  ASSERT_EQ(stats->bad_line_examples.size(), 4u);
  EXPECT_NE(stats->bad_line_examples[0].find("log.tsv:2: no tab"), std::string::npos);
  EXPECT_NE(stats->bad_line_examples[1].find("log.tsv:3: count 'many'"), std::string::npos);
}

TEST(Index, LogWithoutUsableLinesIsAnError) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), "garbage\nmore garbage\n");
  auto stats = BuildIndex(Options(dir));
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("2 malformed"), std::string::npos);
}

TEST(Index, MissingLogIsAnIoErrorNamingThePath) {
  TempDir dir;
  auto stats = BuildIndex(Options(dir));
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), StatusCode::kIoError);
  EXPECT_NE(stats.status().message().find(dir.File("log.tsv")), std::string::npos);
}

TEST(Index, BadBuildOptionsAreRejected) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), "nike shoe\t3\n");
  auto options = Options(dir);
  options.edge_votes = 37;
  EXPECT_EQ(BuildIndex(options).status().code(), StatusCode::kInvalidArgument);
}

TEST(Index, TinyMemoryBudgetGivesTheSameIndex) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), BrandProductLog());
  auto options = Options(dir);
  ASSERT_TRUE(BuildIndex(options).ok());
  std::string roomy = ReadFile(options.out_path);
  options.memory_budget_bytes = 4096;  // many shards, many passes per shard
  ASSERT_TRUE(BuildIndex(options).ok());
  EXPECT_TRUE(ReadFile(options.out_path) == roomy);
}

class CorruptIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("log.tsv"), BrandProductLog());
    ASSERT_TRUE(BuildIndex(Options(dir_)).ok());
    bytes_ = ReadFile(dir_.File("index.kvlsh"));
  }
  Status OpenWith(const std::string& bytes) {
    WriteFile(dir_.File("bad.kvlsh"), bytes);
    return Index::Open(dir_.File("bad.kvlsh")).status();
  }
  TempDir dir_;
  std::string bytes_;
};

TEST_F(CorruptIndex, IntactFileOpens) { EXPECT_TRUE(OpenWith(bytes_).ok()); }

TEST_F(CorruptIndex, TruncatedFileIsRejectedWithSizes) {
  Status status = OpenWith(bytes_.substr(0, bytes_.size() - 100));
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
}

TEST_F(CorruptIndex, FileShorterThanTheHeaderIsRejected) {
  Status status = OpenWith(bytes_.substr(0, 40));
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_NE(status.message().find("header"), std::string::npos);
}

TEST_F(CorruptIndex, FlippedPayloadByteFailsTheChecksum) {
  std::string bad = bytes_;
  bad[bad.size() / 2] ^= 0x40;
  Status status = OpenWith(bad);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_NE(status.message().find("checksum"), std::string::npos);
}

TEST_F(CorruptIndex, FlippedHeaderByteFailsTheHeaderChecksum) {
  std::string bad = bytes_;
  bad[offsetof(format::FileHeader, cluster_count)] ^= 0x01;
  Status status = OpenWith(bad);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_NE(status.message().find("header checksum"), std::string::npos);
}

TEST_F(CorruptIndex, WrongMagicSaysItIsNotAnIndex) {
  std::string bad = bytes_;
  bad[0] = 'X';
  EXPECT_NE(OpenWith(bad).message().find("not a kvik LSH index"), std::string::npos);
}

TEST_F(CorruptIndex, NewerVersionIsUnimplementedNotCorrupt) {
  std::string bad = bytes_;
  bad[offsetof(format::FileHeader, version)] = 99;
  EXPECT_EQ(OpenWith(bad).code(), StatusCode::kUnimplemented);
}

TEST_F(CorruptIndex, EveryTruncationIsRejectedWithoutCrashing) {
  for (size_t size = 0; size < bytes_.size(); size += 97) {
    EXPECT_FALSE(OpenWith(bytes_.substr(0, size)).ok()) << size;
  }
}

TEST(Index, MissingFileIsAnIoError) {
  EXPECT_EQ(Index::Open("/nonexistent/x.kvlsh").status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace kvik::lsh
