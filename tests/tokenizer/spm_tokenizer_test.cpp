#include <algorithm>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvik/tokenizer.h"
#include "tokenizer/test_vocabs.h"

namespace kvik {
namespace {

using ::kvik::testing::kSpmBos;
using ::kvik::testing::kSpmFirstByte;
using ::kvik::testing::MakeHelloSpmVocab;
using ::kvik::testing::MakeSpmVocab;

int32_t IdOf(const Tokenizer& tokenizer, const std::string& piece) {
  const auto& tokens = tokenizer.vocab().tokens;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] == piece) return static_cast<int32_t>(i);
  ADD_FAILURE() << "no piece " << piece;
  return -1;
}

Tokenizer MakeTokenizer(Vocab vocab) {
  auto tokenizer = Tokenizer::FromVocab(std::move(vocab));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  return std::move(tokenizer).value();
}

TEST(SpmTokenizer, MergesPairsInScoreOrderUntilTheWholeWordIsOnePiece) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  // ▁ h e l l o: "ll" (-3) first, then "llo" (-4), "he" (-5), "hello" (-6), "▁hello" (-7).
  EXPECT_EQ(tokenizer.Encode("hello", false),
            std::vector<int32_t>{IdOf(tokenizer, "\xE2\x96\x81hello")});
}

TEST(SpmTokenizer, PrependsBosOnlyWhenAsked) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  const int32_t hello = IdOf(tokenizer, "\xE2\x96\x81hello");
  EXPECT_EQ(tokenizer.Encode("hello", true), (std::vector<int32_t>{kSpmBos, hello}));
  EXPECT_EQ(tokenizer.Encode("", true), std::vector<int32_t>{kSpmBos});
  EXPECT_TRUE(tokenizer.Encode("", false).empty());
}

TEST(SpmTokenizer, EncodesASentenceIntoTheExpectedPieces) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  // "▁world": "▁w" (-8) beats "or" (-9); then nothing else merges.
  const std::vector<int32_t> expected = {IdOf(tokenizer, "\xE2\x96\x81hello"),
                                         IdOf(tokenizer, "\xE2\x96\x81w"), IdOf(tokenizer, "or"),
                                         IdOf(tokenizer, "l"), IdOf(tokenizer, "d")};
  EXPECT_EQ(tokenizer.Encode("hello world", false), expected);
}

TEST(SpmTokenizer, HigherScoreWinsOverAnEarlierPosition) {
  Vocab vocab = MakeSpmVocab({{"a", -1}, {"b", -1}, {"c", -1}, {"ab", -5}, {"bc", -2}});
  vocab.add_space_prefix = false;
  const Tokenizer tokenizer = MakeTokenizer(vocab);
  EXPECT_EQ(tokenizer.Encode("abc", false),
            (std::vector<int32_t>{IdOf(tokenizer, "a"), IdOf(tokenizer, "bc")}));
}

TEST(SpmTokenizer, EqualScoresMergeTheLeftmostPairFirst) {
  Vocab vocab = MakeSpmVocab({{"a", -1}, {"aa", -2}});
  vocab.add_space_prefix = false;
  const Tokenizer tokenizer = MakeTokenizer(vocab);
  EXPECT_EQ(tokenizer.Encode("aaa", false),
            (std::vector<int32_t>{IdOf(tokenizer, "aa"), IdOf(tokenizer, "a")}));
}

TEST(SpmTokenizer, FallsBackToByteTokensForCharactersNotInTheVocabulary) {
  Vocab vocab = MakeHelloSpmVocab();
  vocab.add_space_prefix = false;
  const Tokenizer tokenizer = MakeTokenizer(vocab);
  // 中 = E4 B8 AD; é is a piece of its own.
  EXPECT_EQ(tokenizer.Encode("\xE4\xB8\xAD\xC3\xA9", false),
            (std::vector<int32_t>{kSpmFirstByte + 0xE4, kSpmFirstByte + 0xB8, kSpmFirstByte + 0xAD,
                                  IdOf(tokenizer, "\xC3\xA9")}));
}

TEST(SpmTokenizer, DoesNotReadControlTokenTextAsAControlToken) {
  Vocab vocab = MakeHelloSpmVocab();
  const Tokenizer tokenizer = MakeTokenizer(vocab);
  for (int32_t id : tokenizer.Encode("<s>", false)) EXPECT_NE(id, kSpmBos);
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode("<s>", false)), "<s>");
}

TEST(SpmTokenizer, DecodesByteTokensToRawBytesAndControlTokensToNothing) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  EXPECT_EQ(tokenizer.TokenToPiece(kSpmFirstByte + 0x0A), "\n");
  EXPECT_EQ(tokenizer.TokenToPiece(kSpmBos), "");
  EXPECT_EQ(tokenizer.TokenToPiece(IdOf(tokenizer, "\xE2\x96\x81hello")), " hello");
  EXPECT_EQ(tokenizer.Decode({kSpmBos, IdOf(tokenizer, "\xE2\x96\x81hello")}), "hello");
}

TEST(SpmTokenizer, DecodeDropsOnlyTheOneSpaceThePrefixAdded) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode("  hello", true)), "  hello");
}

TEST(SpmTokenizer, InvalidUtf8GoesOutAsByteTokensAndRoundTrips) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  const std::string text = "a\xFF\xC3(b\xE2\x82";
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(text, true)), text);
}

class SpmRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(SpmRoundTrip, DecodeOfEncodeGivesTheTextBack) {
  for (bool add_space_prefix : {true, false}) {
    Vocab vocab = MakeHelloSpmVocab();
    vocab.add_space_prefix = add_space_prefix;
    const Tokenizer tokenizer = MakeTokenizer(vocab);
    EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(GetParam(), true)), GetParam())
        << "add_space_prefix=" << add_space_prefix;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Texts, SpmRoundTrip,
    ::testing::Values("", "hello world", "Hello, World! 123",
                      "caf\xC3\xA9 na\xC3\xAFve \xC3\xA0 la",
                      "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97 \xE6\x97\xA5\xE6\x9C\xAC",
                      "emoji \xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!", " leading",
                      "trailing ", "   many   spaces   ", "line\nbreaks\n\nhere\n", "\ttabs\tand\t",
                      " ", "\n", "a"));

}  // namespace
}  // namespace kvik

namespace kvik {
namespace {

// Any byte string round-trips, except one holding U+2581 itself: SentencePiece writes spaces as
// U+2581, so a literal one decodes to a space (as in llama.cpp and SentencePiece).
TEST(SpmTokenizer, RoundTripsRandomByteStrings) {
  const Tokenizer tokenizer = MakeTokenizer(MakeHelloSpmVocab());
  uint32_t state = 7;
  const auto next = [&] { return state = state * 1103515245u + 12345u, (state >> 16) & 0xFF; };
  const std::string alphabet =
      std::string("hello wrd \n\t") + "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x99\x82";
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int length = static_cast<int>(next() % 40);
    for (int i = 0; i < length; ++i) {
      // Half the bytes from a UTF-8-rich alphabet, half arbitrary (often invalid UTF-8).
      const uint32_t r = next();
      text.push_back(r & 1 ? alphabet[next() % alphabet.size()] : static_cast<char>(next()));
    }
    if (text.find("\xE2\x96\x81") != std::string::npos) continue;
    ASSERT_EQ(tokenizer.Decode(tokenizer.Encode(text, true)), text) << "trial " << trial;
  }
}

}  // namespace
}  // namespace kvik

namespace kvik {
namespace {

TEST(SpmTokenizer, WithoutTokenTypesTreatsByteNamedPiecesAsBytes) {
  Vocab vocab = MakeHelloSpmVocab();
  vocab.token_types.clear();
  const Tokenizer tokenizer = MakeTokenizer(vocab);
  EXPECT_EQ(tokenizer.TokenToPiece(kSpmFirstByte + 0x0A), "\n");
  EXPECT_EQ(tokenizer.Encode("\n", false).back(), kSpmFirstByte + 0x0A);
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode("hello\nworld", true)), "hello\nworld");
}

}  // namespace
}  // namespace kvik

namespace kvik {
namespace {

TEST(SpmTokenizerSpecials, ParsesControlTokenTextOnlyWhenAsked) {
  const Tokenizer tokenizer = MakeTokenizer(testing::MakeHelloSpmVocab());
  const int32_t hello = IdOf(tokenizer, "\xE2\x96\x81hello");
  // Plain: "</s>" is text (bytes), never the end-of-sequence token.
  const auto plain = tokenizer.Encode("hello</s>hello", false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), testing::kSpmEos), 0);
  // Parsed: the stretches around it are encoded on their own, each with the space prefix.
  EXPECT_EQ(tokenizer.Encode("hello</s>hello", false, true),
            (std::vector<int32_t>{hello, testing::kSpmEos, hello}));
  EXPECT_EQ(tokenizer.Encode("<s>hello", false, true), (std::vector<int32_t>{testing::kSpmBos, hello}));
}

}  // namespace
}  // namespace kvik
