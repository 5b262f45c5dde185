// Spelling correction: the one-edit matcher, the weigher's corrections, and lookups of unseen
// typos.
#include "lsh/typo.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <unordered_map>

#include "kvik/lsh.h"
#include "lsh/index_format.h"
#include "lsh_test_util.h"

namespace kvik::lsh {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// The matcher over an in-memory table, as the weigher uses it.
class Targets {
 public:
  explicit Targets(const std::vector<std::string>& words) {
    for (const auto& w : words) {
      std::vector<format::TypoEntry> entries;
      typo::AddTarget(w, entries);
      for (const auto& e : entries) by_key_[e.key_hash].push_back(e);
      word_of_hash_[HashToken(w)] = w;
    }
  }
  std::string Correct(const std::string& token) const {
    auto lookup = [&](uint64_t key) {
      auto it = by_key_.find(key);
      if (it == by_key_.end()) return typo::EntryRange{nullptr, nullptr};
      return typo::EntryRange{it->second.data(), it->second.data() + it->second.size()};
    };
    auto target = typo::UniqueTarget(token, lookup);
    return target ? word_of_hash_.at(*target) : "";
  }

 private:
  std::unordered_map<uint64_t, std::vector<format::TypoEntry>> by_key_;
  std::unordered_map<uint64_t, std::string> word_of_hash_;
};

TEST(Typo, DeletionsAreOnePerRunOfEqualLetters) {
  auto deletions = typo::Deletions("boook");
  ASSERT_EQ(deletions.size(), 3u);
  EXPECT_EQ(deletions[0].text, "oook");
  EXPECT_EQ(deletions[1].text, "book");
  EXPECT_EQ(deletions[1].position, 1u);
  EXPECT_EQ(deletions[1].letter, 'o');
  EXPECT_EQ(deletions[1].run, 3u);
  EXPECT_EQ(deletions[2].text, "booo");
}

TEST(Typo, WithinOneEditCoversTheFourEditKinds) {
  EXPECT_TRUE(typo::WithinOneEdit("running", "runing"));    // deletion
  EXPECT_TRUE(typo::WithinOneEdit("running", "runnning"));  // insertion
  EXPECT_TRUE(typo::WithinOneEdit("running", "rumning"));   // substitution
  EXPECT_TRUE(typo::WithinOneEdit("running", "rnuning"));   // adjacent transposition
  EXPECT_TRUE(typo::WithinOneEdit("running", "running"));
  EXPECT_FALSE(typo::WithinOneEdit("running", "rnunign"));
  EXPECT_FALSE(typo::WithinOneEdit("running", "unningr"));  // rotation: two edits
  EXPECT_FALSE(typo::WithinOneEdit("running", "run"));
}

TEST(Typo, FindsTheTargetOfEachEditKind) {
  Targets targets({"running", "jacket", "sneaker"});
  EXPECT_EQ(targets.Correct("runing"), "running");
  EXPECT_EQ(targets.Correct("runnning"), "running");
  EXPECT_EQ(targets.Correct("rumning"), "running");
  EXPECT_EQ(targets.Correct("rnuning"), "running");
  EXPECT_EQ(targets.Correct("jackte"), "jacket");
  EXPECT_EQ(targets.Correct("snaeker"), "sneaker");
  EXPECT_EQ(targets.Correct("jaccet"), "jacket");  // substitution next to a run of c
  EXPECT_EQ(targets.Correct("snneaker"), "sneaker");
  EXPECT_EQ(targets.Correct("running"), "");  // a target is not its own typo
  EXPECT_EQ(targets.Correct("unningr"), "");
  EXPECT_EQ(targets.Correct("runn1ng"), "");  // digits are never corrected
}

TEST(Typo, AmbiguousTyposAreLeftAlone) {
  Targets targets({"brami", "brama"});
  EXPECT_EQ(targets.Correct("bramu"), "");  // one substitution from both
  EXPECT_EQ(targets.Correct("brammi"), "brami");
}

// Property: on random pseudo-words, the matcher finds a target exactly when one target is within
// one edit (optimal string alignment) of the token, and that target is the one it names.
TEST(Typo, MatcherAgreesWithEditDistanceOnRandomWords) {
  std::mt19937_64 rng(7);
  const std::string letters = "aeioubkrst";
  auto word = [&](size_t length) {
    std::string w;
    for (size_t i = 0; i < length; ++i) w += letters[rng() % letters.size()];
    return w;
  };
  size_t checked = 0, found = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> words;
    for (int i = 0; i < 20; ++i) words.push_back(word(5 + rng() % 3));
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    Targets targets(words);
    for (int t = 0; t < 50; ++t) {
      // Half the tokens are edits of a target, half random.
      std::string token = words[rng() % words.size()];
      size_t at = rng() % token.size();
      switch (rng() % 5) {
        case 0:
          token.erase(at, 1);
          break;
        case 1:
          token.insert(at, 1, letters[rng() % letters.size()]);
          break;
        case 2:
          token[at] = letters[rng() % letters.size()];
          break;
        case 3:
          if (at + 1 < token.size()) std::swap(token[at], token[at + 1]);
          break;
        default:
          token = word(4 + rng() % 4);
      }
      std::vector<std::string> near;
      for (const auto& w : words) {
        if (w != token && typo::WithinOneEdit(w, token)) near.push_back(w);
      }
      // (A token that is itself a target is never looked up; the matcher then names the other.)
      const std::string expected =
          (near.size() == 1 && token.size() >= typo::kMinTypoLength) ? near[0] : "";
      std::string near_list;
      for (const auto& w : near) near_list += w + " ";
      EXPECT_EQ(targets.Correct(token), expected) << token << " near: " << near_list;
      ++checked;
      found += !expected.empty();
    }
  }
  EXPECT_GT(found, checked / 4);  // the property was exercised on real typos, not only misses
}

TEST(Typo, WeigherCorrectsRareTokensIntoFrequentOnes) {
  Weigher weigher;
  weigher.EnableTypoCorrection({});
  for (int i = 0; i < 40; ++i) weigher.CountDocument({"nike", "running", "shoe"});
  weigher.CountDocument({"nike", "runing", "shoe"});
  weigher.Finish();
  auto right = weigher.Weigh({"running"});
  auto typo = weigher.Weigh({"runing"});
  ASSERT_EQ(typo.size(), 1u);
  EXPECT_EQ(typo[0].hash, right[0].hash);
  EXPECT_EQ(typo[0].weight, right[0].weight);
  EXPECT_EQ(weigher.corrections().at("runing"), "running");
}

TEST(Typo, WeigherNeedsTheRatioAndNeverCorrectsLexiconWords) {
  RoleLexicon lexicon;
  lexicon.roles["bramo"] = TokenRole::kBrand;
  Weigher weigher(lexicon);
  weigher.EnableTypoCorrection({.enabled = true, .min_target_df = 3, .min_ratio = 8});
  for (int i = 0; i < 40; ++i) weigher.CountDocument({"brami", "jacket"});
  for (int i = 0; i < 2; ++i) weigher.CountDocument({"bramo", "jacket"});      // a brand
  for (int i = 0; i < 10; ++i) weigher.CountDocument({"jackets", "jackett"});  // too common
  weigher.Finish();
  EXPECT_EQ(weigher.corrections().count("bramo"), 0u);
  EXPECT_EQ(weigher.corrections().count("jackett"), 0u);  // 50 / 10 < 8
  EXPECT_NE(weigher.Weigh({"bramo"})[0].hash, weigher.Weigh({"brami"})[0].hash);
}

TEST(Typo, BareWeigherCorrectsNothing) {
  Weigher weigher;
  for (int i = 0; i < 40; ++i) weigher.CountDocument({"running"});
  weigher.CountDocument({"runing"});
  weigher.Finish();
  EXPECT_TRUE(weigher.corrections().empty());
}

std::string RunningLog() {
  return "nike running shoe\t100\nnike running shoes\t40\nrunning shoe nike\t10\n"
         "adidas rain jacket\t90\nadidas rain jackets\t30\nnike runing shoe\t2\n"
         "nike trail running shoe\t20\nadidas running jacket\t15\n";
}

TEST(Typo, LogTyposJoinTheirIntentAndUnseenTyposHitAtLookup) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), RunningLog());
  BuildOptions options;
  options.log_path = dir.File("log.tsv");
  options.out_path = dir.File("index.kvlsh");
  options.typo.min_target_df = 2;
  options.typo.min_ratio = 4;  // "running" is in 6 queries, "runing" in 1
  auto stats = BuildIndex(options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->typo_corrections, 1u);  // "runing"
  auto index = Index::Open(options.out_path);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  for (const char* query : {"nike runing shoe", "nike rnuning shoe", "Nike Runnning Shoes"}) {
    auto hit = (*index)->Lookup(query);
    ASSERT_TRUE(hit.has_value()) << query;
    EXPECT_EQ(hit->canonical, "nike running shoe") << query;
    EXPECT_EQ(hit->votes, 36u) << query;
  }
  options.typo.enabled = false;
  options.out_path = dir.File("plain.kvlsh");
  ASSERT_TRUE(BuildIndex(options).ok());
  auto plain = Index::Open(options.out_path);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->Lookup("nike rnuning shoe").has_value());
}

TEST(Typo, VersionOneFilesWithoutTypoSectionStillOpen) {
  TempDir dir;
  WriteFile(dir.File("log.tsv"), RunningLog());
  BuildOptions options;
  options.log_path = dir.File("log.tsv");
  options.out_path = dir.File("index.kvlsh");
  options.typo.enabled = false;
  ASSERT_TRUE(BuildIndex(options).ok());
  std::string bytes = ReadFile(options.out_path);
  format::FileHeader header;
  std::memcpy(&header, bytes.data(), sizeof header);
  ASSERT_EQ(header.typo_count, 0u);
  header.version = 1;
  header.header_checksum = 0;
  header.header_checksum = XXH64(&header, sizeof header, 0);
  std::memcpy(bytes.data(), &header, sizeof header);
  WriteFile(dir.File("v1.kvlsh"), bytes);
  auto index = Index::Open(dir.File("v1.kvlsh"));
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->info().version, 1u);
  EXPECT_TRUE((*index)->Lookup("running shoe nike").has_value());
}

}  // namespace
}  // namespace kvik::lsh
