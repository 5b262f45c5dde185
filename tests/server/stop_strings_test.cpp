// Stop strings over incrementally arriving text, and UTF-8 holding.
#include "server/stop_strings.h"

#include <gtest/gtest.h>

#include <random>

namespace kvik::server {
namespace {

struct Outcome {
  std::string text;
  bool stopped = false;
};

Outcome Feed(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopStringMatcher matcher(stops);
  Outcome out;
  for (const std::string& piece : pieces) out.text += matcher.Push(piece);
  out.stopped = matcher.stopped();
  out.text += matcher.Flush();
  return out;
}

TEST(StopStrings, WithoutStopStringsEverythingPassesAtOnce) {
  StopStringMatcher matcher({});
  EXPECT_EQ(matcher.Push("Hello"), "Hello");
  EXPECT_EQ(matcher.Push(" world"), " world");
  EXPECT_FALSE(matcher.stopped());
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopStrings, TextThatCannotStartAStopIsEmittedImmediately) {
  StopStringMatcher matcher({"END"});
  EXPECT_EQ(matcher.Push("abc"), "abc");
  EXPECT_EQ(matcher.Push("xyz"), "xyz");
}

TEST(StopStrings, APossiblePrefixIsHeldBackUntilDecided) {
  StopStringMatcher matcher({"END"});
  EXPECT_EQ(matcher.Push("The E"), "The ");
  EXPECT_EQ(matcher.Push("N"), "");
  EXPECT_EQ(matcher.Push("ding"), "ENding");  // not "END": released
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopStrings, AStopSplitAcrossPiecesStopsAndIsTrimmed) {
  StopStringMatcher matcher({"\n\nUser:"});
  EXPECT_EQ(matcher.Push("Sure.\n"), "Sure.");
  EXPECT_EQ(matcher.Push("\nUs"), "");
  EXPECT_EQ(matcher.Push("er: next"), "");
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(matcher.Push("more"), "");  // ignored after the stop
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopStrings, AStopInsideOnePieceDropsItAndTheRest) {
  EXPECT_EQ(Feed({"###"}, {"answer### trailing"}).text, "answer");
  EXPECT_TRUE(Feed({"###"}, {"answer### trailing"}).stopped);
}

TEST(StopStrings, AStopAtTheVeryStartEmitsNothing) {
  Outcome out = Feed({"Q:"}, {"Q", ":", " hi"});
  EXPECT_EQ(out.text, "");
  EXPECT_TRUE(out.stopped);
}

TEST(StopStrings, HeldTextIsReleasedByFlushWhenGenerationEnds) {
  StopStringMatcher matcher({"END"});
  EXPECT_EQ(matcher.Push("the EN"), "the ");
  EXPECT_EQ(matcher.Flush(), "EN");
}

TEST(StopStrings, TheStopCompletedFirstWins) {
  // "bc" completes (at 'c') before "abcd" could (at 'd').
  EXPECT_EQ(Feed({"abcd", "bc"}, {"xabcd"}).text, "xa");
  // Both complete at the same character: the longer (earlier-starting) one is trimmed.
  EXPECT_EQ(Feed({"bc", "abc"}, {"xabc"}).text, "x");
}

TEST(StopStrings, OverlappingSelfPrefixesAreFound) {
  // "aab" inside "aaab": the held "aa" must not be dropped when a third 'a' arrives.
  EXPECT_EQ(Feed({"aab"}, {"a", "a", "a", "b"}).text, "a");
  EXPECT_EQ(Feed({"abab"}, {"ab", "ab", "ab"}).text, "");
}

TEST(StopStrings, MultibyteStopStringsMatchAcrossByteSplits) {
  const std::string stop = "\xE2\x80\x94";  // "—"
  EXPECT_EQ(Feed({stop}, {"a\xE2", "\x80", "\x94z"}).text, "a");
}

TEST(StopStrings, EmptyStopStringsAreIgnored) { EXPECT_EQ(Feed({""}, {"abc"}).text, "abc"); }

// Property: for random texts, stop sets and splits, the output equals the reference computed on
// the whole text, never contains a stop string, and does not depend on the split.
TEST(StopStrings, ResultDoesNotDependOnHowTheTextIsSplit) {
  std::mt19937 rng(42);
  auto random_text = [&](size_t max_len) {
    std::string s(rng() % max_len, 'a');
    for (char& c : s) c = "abc\n"[rng() % 4];
    return s;
  };
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text = random_text(40);
    std::vector<std::string> stops;
    for (int i = 1 + rng() % 3; i > 0; --i) {
      std::string stop = random_text(5);
      if (!stop.empty()) stops.push_back(stop);
    }
    // Reference: the first position where some stop string ends.
    std::string expected = text;
    bool expected_stop = false;
    for (size_t end = 1; end <= text.size() && !expected_stop; ++end) {
      size_t best_start = std::string::npos;
      for (const std::string& stop : stops) {
        if (stop.size() <= end && text.compare(end - stop.size(), stop.size(), stop) == 0)
          best_start = std::min(best_start, end - stop.size());
      }
      if (best_start != std::string::npos) {
        expected = text.substr(0, best_start);
        expected_stop = true;
      }
    }
    std::vector<std::string> pieces;
    for (size_t at = 0; at < text.size();) {
      size_t len = 1 + rng() % 6;
      pieces.push_back(text.substr(at, len));
      at += len;
    }
    Outcome out = Feed(stops, pieces);
    ASSERT_EQ(out.text, expected) << "text '" << text << "'";
    ASSERT_EQ(out.stopped, expected_stop);
    for (const std::string& stop : stops) ASSERT_EQ(out.text.find(stop), std::string::npos);
  }
}

TEST(Utf8, CompleteLengthStopsBeforeAnUnfinishedSequence) {
  EXPECT_EQ(CompleteUtf8Length("abc"), 3u);
  EXPECT_EQ(CompleteUtf8Length("a\xC3"), 1u);              // 2-byte lead alone
  EXPECT_EQ(CompleteUtf8Length("a\xC3\xA9"), 3u);          // "é" complete
  EXPECT_EQ(CompleteUtf8Length("a\xE2\x80"), 1u);          // 3-byte, 2 of 3
  EXPECT_EQ(CompleteUtf8Length("a\xF0\x9F\x98"), 1u);      // 4-byte, 3 of 4
  EXPECT_EQ(CompleteUtf8Length("a\xF0\x9F\x98\x80"), 5u);  // "😀"
  EXPECT_EQ(CompleteUtf8Length("\x80\x80"), 2u);  // stray continuation: nothing to wait for
}

TEST(Utf8, JoinerReassemblesCharactersSplitAcrossTokens) {
  Utf8Joiner joiner;
  EXPECT_EQ(joiner.Push("caf\xC3"), "caf");
  EXPECT_EQ(joiner.Push("\xA9 \xF0\x9F"), "\xC3\xA9 ");
  EXPECT_EQ(joiner.Push("\x98\x80!"), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(joiner.Push("\xE2"), "");
  EXPECT_EQ(joiner.Flush(), "\xE2");
}

}  // namespace
}  // namespace kvik::server
