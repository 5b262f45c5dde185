#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvik/tokenizer.h"
#include "tokenizer/utf8.h"

namespace kvik {
namespace {

// GPT-2's byte -> code point map, written independently of the tokenizer's: printable Latin-1
// bytes keep their value, the others get 256, 257, ... in byte order.
std::string ByteLevelText(int byte) {
  const auto printable = [](int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  uint32_t code_point = byte;
  if (!printable(byte)) {
    code_point = 256;
    for (int b = 0; b < byte; ++b)
      if (!printable(b)) ++code_point;
  }
  std::string text;
  tokenizer_internal::AppendUtf8(code_point, text);
  return text;
}

constexpr int32_t kEndOfText = 256;

// Ids 0..255 are the single bytes (id = byte value), 256 is <|endoftext|>, then one token per
// merge.
Vocab MakeByteLevelVocab(const std::vector<std::string>& merges) {
  Vocab vocab;
  vocab.model = "gpt2";
  for (int byte = 0; byte < 256; ++byte) vocab.tokens.push_back(ByteLevelText(byte));
  vocab.tokens.push_back("<|endoftext|>");
  vocab.token_types.assign(vocab.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  vocab.token_types[kEndOfText] = static_cast<int32_t>(TokenType::kControl);
  for (const std::string& merge : merges) {
    std::string merged = merge;
    merged.erase(merged.find(' '), 1);
    vocab.tokens.push_back(merged);
    vocab.token_types.push_back(static_cast<int32_t>(TokenType::kNormal));
  }
  vocab.merges = merges;
  vocab.bos_id = kEndOfText;
  vocab.eos_id = kEndOfText;
  vocab.add_bos = false;
  vocab.add_space_prefix = false;
  return vocab;
}

const std::vector<std::string> kHelloMerges = {
    "h e", "l l", "\xC4\xA0 t", "\xC4\xA0t he", "he ll", "hell o",  // \xC4\xA0 = "Ġ" (a space)
};

Tokenizer MakeTokenizer(Vocab vocab) {
  auto tokenizer = Tokenizer::FromVocab(std::move(vocab));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  return std::move(tokenizer).value();
}

int32_t IdOf(const Tokenizer& tokenizer, const std::string& piece) {
  const auto& tokens = tokenizer.vocab().tokens;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] == piece) return static_cast<int32_t>(i);
  ADD_FAILURE() << "no piece " << piece;
  return -1;
}

TEST(ByteLevelTokenizer, AppliesMergesWithinEachPreTokenizedWord) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  EXPECT_EQ(tokenizer.Encode("hello the", false),
            (std::vector<int32_t>{IdOf(tokenizer, "hello"), IdOf(tokenizer, "\xC4\xA0the")}));
}

TEST(ByteLevelTokenizer, NeverMergesAcrossPreTokenizerBoundaries) {
  // "ll" could merge across "l l" but the split puts "l" and " l" in different words.
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  EXPECT_EQ(tokenizer.Encode("l l", false),
            (std::vector<int32_t>{'l', IdOf(tokenizer, "\xC4\xA0"), 'l'}));
}

TEST(ByteLevelTokenizer, LowerRankMergesFirstEvenWhenItIsFurtherRight) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab({"b c", "a b"}));
  EXPECT_EQ(tokenizer.Encode("abc", false), (std::vector<int32_t>{'a', IdOf(tokenizer, "bc")}));
}

TEST(ByteLevelTokenizer, RepeatedPairMergesFromTheLeft) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab({"a a"}));
  EXPECT_EQ(tokenizer.Encode("aaa", false), (std::vector<int32_t>{IdOf(tokenizer, "aa"), 'a'}));
}

TEST(ByteLevelTokenizer, UnmergedBytesBecomeTheirByteLevelTokens) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  EXPECT_EQ(tokenizer.Encode("\xC3\xA9\n", false), (std::vector<int32_t>{0xC3, 0xA9, '\n'}));
}

TEST(ByteLevelTokenizer, ControlTokensDecodeToNothingAndTheirTextIsNotParsed) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  EXPECT_EQ(tokenizer.TokenToPiece(kEndOfText), "");
  for (int32_t id : tokenizer.Encode("<|endoftext|>", false)) EXPECT_NE(id, kEndOfText);
}

TEST(ByteLevelTokenizer, DoesNotPrependBosWhenTheVocabularyHasNone) {
  Vocab vocab = MakeByteLevelVocab(kHelloMerges);
  vocab.bos_id = -1;
  const Tokenizer tokenizer = MakeTokenizer(vocab);
  EXPECT_EQ(tokenizer.Encode("a", true), std::vector<int32_t>{'a'});
}

TEST(ByteLevelTokenizer, KeepsLeadingSpaces) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(" the", false)), " the");
  EXPECT_EQ(tokenizer.Encode(" the", false), std::vector<int32_t>{IdOf(tokenizer, "\xC4\xA0the")});
}

class ByteLevelRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ByteLevelRoundTrip, DecodeOfEncodeGivesTheTextBack) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  EXPECT_EQ(tokenizer.Decode(tokenizer.Encode(GetParam(), true)), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Texts, ByteLevelRoundTrip,
    ::testing::Values("", "hello the world", "Hello, World! 123 it's they'll",
                      "caf\xC3\xA9 na\xC3\xAFve \xC3\xA0 la",
                      "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97 \xE6\x97\xA5\xE6\x9C\xAC",
                      "emoji \xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!", " leading",
                      "trailing ", "   many   spaces   ", "line\nbreaks\n\nhere\n", "\ttabs\tand\t",
                      " ", "\n", "bad \xFF\xC3 utf8", std::string("nul\0byte", 8)));

}  // namespace
}  // namespace kvik

namespace kvik {
namespace {

TEST(ByteLevelTokenizer, RoundTripsRandomByteStrings) {
  const Tokenizer tokenizer = MakeTokenizer(MakeByteLevelVocab(kHelloMerges));
  uint32_t state = 11;
  const auto next = [&] { return state = state * 1103515245u + 12345u, (state >> 16) & 0xFF; };
  const std::string alphabet = std::string("hello the 's 12 \n\t!") + "\xC3\xA9\xE4\xB8\xAD";
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    const int length = static_cast<int>(next() % 40);
    for (int i = 0; i < length; ++i) {
      const uint32_t r = next();
      text.push_back(r & 1 ? alphabet[next() % alphabet.size()] : static_cast<char>(next()));
    }
    ASSERT_EQ(tokenizer.Decode(tokenizer.Encode(text, false)), text) << "trial " << trial;
  }
}

}  // namespace
}  // namespace kvik
