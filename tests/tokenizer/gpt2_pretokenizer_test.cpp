#include "tokenizer/gpt2_pretokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kvik::tokenizer_internal {
namespace {

std::vector<std::string> Split(std::string_view text) {
  std::vector<std::string> pieces;
  for (std::string_view piece : SplitGpt2(text)) pieces.emplace_back(piece);
  return pieces;
}

using Pieces = std::vector<std::string>;

TEST(Gpt2PreTokenizer, KeepsOneLeadingSpaceWithEachWord) {
  EXPECT_EQ(Split("Hello world again"), (Pieces{"Hello", " world", " again"}));
}

TEST(Gpt2PreTokenizer, SplitsContractionsOff) {
  EXPECT_EQ(Split("it's we'll they're I'd"),
            (Pieces{"it", "'s", " we", "'ll", " they", "'re", " I", "'d"}));
}

TEST(Gpt2PreTokenizer, SeparatesLettersNumbersAndPunctuation) {
  EXPECT_EQ(Split("abc123!? x42"), (Pieces{"abc", "123", "!?", " x", "42"}));
}

TEST(Gpt2PreTokenizer, LeavesTheLastSpaceOfARunForTheNextWord) {
  EXPECT_EQ(Split("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split("a\n\n x"), (Pieces{"a", "\n\n", " x"}));
  EXPECT_EQ(Split("a\nb"), (Pieces{"a", "\n", "b"}));
}

TEST(Gpt2PreTokenizer, KeepsTrailingWhitespaceTogether) {
  EXPECT_EQ(Split("end  \n"), (Pieces{"end", "  \n"}));
}

TEST(Gpt2PreTokenizer, TreatsAccentedAndCjkLettersAsLetters) {
  EXPECT_EQ(Split("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87!"),
            (Pieces{"caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87", "!"}));
}

TEST(Gpt2PreTokenizer, GroupsEmojiWithOtherSymbols) {
  EXPECT_EQ(Split("hi \xF0\x9F\x99\x82\xF0\x9F\x91\x8D."),
            (Pieces{"hi", " \xF0\x9F\x99\x82\xF0\x9F\x91\x8D."}));
}

TEST(Gpt2PreTokenizer, PiecesAlwaysTileTheInput) {
  const std::string text = "  x\t\ty's 12 \xFF\xFE z \xE2\x80\x83 end\n";
  std::string joined;
  for (const std::string& piece : Split(text)) {
    EXPECT_FALSE(piece.empty());
    joined += piece;
  }
  EXPECT_EQ(joined, text);
}

TEST(Gpt2PreTokenizer, ClassifiesCodePoints) {
  EXPECT_TRUE(IsUnicodeLetter(U'Z'));
  EXPECT_TRUE(IsUnicodeLetter(0x00E9));   // é
  EXPECT_TRUE(IsUnicodeLetter(0x4E2D));   // 中
  EXPECT_FALSE(IsUnicodeLetter(0x0301));  // combining acute accent is a mark, not a letter
  EXPECT_TRUE(IsUnicodeNumber(U'7'));
  EXPECT_TRUE(IsUnicodeNumber(0x00BD));  // ½
  EXPECT_TRUE(IsUnicodeWhitespace(0x3000));
  EXPECT_FALSE(IsUnicodeWhitespace(0x200B));  // zero-width space is not \s
}

}  // namespace
}  // namespace kvik::tokenizer_internal
