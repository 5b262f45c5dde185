#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "kvik/lsh.h"

namespace kvik::lsh {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  auto path =
      std::filesystem::temp_directory_path() / ("kvik_lsh_" + std::to_string(::getpid()) + name);
  std::ofstream(path) << text;
  return path.string();
}

double WeightOf(const Weigher& weigher, const std::string& token) {
  auto weighted = weigher.Weigh({token});
  return weighted.empty() ? 0.0 : weighted[0].weight;
}

TEST(Weigher, RareTokensWeighMoreThanCommonOnes) {
  Weigher weigher;
  weigher.CountDocument({"nike", "shoe"});
  weigher.CountDocument({"adidas", "shoe"});
  weigher.CountDocument({"puma", "shoe"});
  weigher.Finish();
  EXPECT_GT(WeightOf(weigher, "nike"), WeightOf(weigher, "shoe"));
  EXPECT_NEAR(WeightOf(weigher, "shoe"), std::log1p(3.0 / 3.0),
              1e-6);  // weights are stored as float
  EXPECT_NEAR(WeightOf(weigher, "never-seen"), std::log1p(3.0), 1e-6);
}

TEST(Weigher, DeduplicatesRepeatedTokens) {
  Weigher weigher;
  EXPECT_EQ(weigher.Weigh({"shoe", "shoe", "red"}).size(), 2u);
}

TEST(Weigher, LexiconMakesSynonymCloserThanBrandSwap) {
  std::string path =
      WriteTemp("lexicon.tsv", "# roles\nnike\tbrand\nadidas\tbrand\nshoes\thead\nsneaker\thead\n");
  auto lexicon = LoadRoleLexicon(path);
  ASSERT_TRUE(lexicon.ok()) << lexicon.status().ToString();
  Weigher weigher(*lexicon);
  auto nike_shoe = weigher.Weigh({"nike", "shoe"});
  double synonym_like = MinHasher::Jaccard(nike_shoe, weigher.Weigh({"nike", "sneaker"}), true);
  double brand_swap = MinHasher::Jaccard(nike_shoe, weigher.Weigh({"adidas", "shoe"}), true);
  EXPECT_GT(synonym_like, brand_swap);
}

TEST(Weigher, LexiconSynonymsFoldTokensTogether) {
  std::string path = WriteTemp("synonyms.tsv", "sneakers\tsynonym\tshoe\n");
  auto lexicon = LoadRoleLexicon(path);
  ASSERT_TRUE(lexicon.ok()) << lexicon.status().ToString();
  Weigher weigher(*lexicon);
  EXPECT_EQ(weigher.Weigh({"sneaker"})[0].hash, HashToken("shoe"));
}

TEST(Weigher, StopRoleRemovesTheToken) {
  auto lexicon = LoadRoleLexicon(WriteTemp("stop.tsv", "buy\tstop\n"));
  ASSERT_TRUE(lexicon.ok());
  EXPECT_EQ(Weigher(*lexicon).Weigh({"buy", "shoe"}).size(), 1u);
}

TEST(Weigher, LexiconErrorsNameFileLineAndExpectation) {
  std::string path = WriteTemp("bad.tsv", "nike\tbrand\nshoe\tnoun\n");
  auto lexicon = LoadRoleLexicon(path);
  ASSERT_FALSE(lexicon.ok());
  EXPECT_NE(lexicon.status().message().find(path + ":2:"), std::string::npos);
  EXPECT_NE(lexicon.status().message().find("unknown role 'noun'"), std::string::npos);
}

TEST(Weigher, LexiconRejectsSynonymChains) {
  auto lexicon = LoadRoleLexicon(WriteTemp("chain.tsv", "a1\tsynonym\tb1\nb1\tsynonym\tc1\n"));
  EXPECT_FALSE(lexicon.ok());
}

TEST(Weigher, MissingLexiconFileIsAnIoError) {
  auto lexicon = LoadRoleLexicon("/nonexistent/lexicon.tsv");
  ASSERT_FALSE(lexicon.ok());
  EXPECT_EQ(lexicon.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace kvik::lsh
