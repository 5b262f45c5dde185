#include <gtest/gtest.h>

#include "kvik/lsh.h"

namespace kvik::lsh {
namespace {

using Tokens = std::vector<std::string>;

TEST(Normalize, LowercasesAndCollapsesWhitespace) {
  EXPECT_EQ(Normalize("  Nike \t  RUNNING\n shoes  "), "nike running shoe");
}

TEST(Normalize, TreatsUnicodeSpacesAsSeparators) {
  // U+00A0 no-break space, U+3000 ideographic space, U+2009 thin space.
  EXPECT_EQ(Normalize("nike\xC2\xA0running\xE3\x80\x80shoe\xE2\x80\x89red"),
            "nike running shoe red");
}

TEST(Normalize, LowercasesLatinGreekAndCyrillic) {
  EXPECT_EQ(Normalize("ÉCOLE Ωmega ПРИВЕТ"), "école ωmega привет");
}

TEST(Normalize, SplitsOnPunctuationAndDropsApostrophesInsideWords) {
  EXPECT_EQ(Tokenize("men's running-shoe (size 10)!"),
            (Tokens{"men", "running", "shoe", "size", "10"}));  // "mens" then plural-stemmed
}

TEST(Normalize, KeepsDecimalNumbersWhole) {
  EXPECT_EQ(Tokenize("usb 2.5 inch 1,000 gb"), (Tokens{"usb", "2.5", "inch", "1000", "gb"}));
}

TEST(Normalize, StemsCommonPluralForms) {
  EXPECT_EQ(StemPlural("shoes"), "shoe");
  EXPECT_EQ(StemPlural("dresses"), "dress");
  EXPECT_EQ(StemPlural("batteries"), "battery");
  EXPECT_EQ(StemPlural("boxes"), "box");
  EXPECT_EQ(StemPlural("watches"), "watch");
}

TEST(Normalize, LeavesShortAndSingularSWordsAlone) {
  EXPECT_EQ(StemPlural("bus"), "bus");
  EXPECT_EQ(StemPlural("glass"), "glass");
  EXPECT_EQ(StemPlural("cactus"), "cactus");
  EXPECT_EQ(StemPlural("tennis"), "tennis");
}

TEST(Normalize, StemmingCanBeTurnedOff) {
  EXPECT_EQ(Normalize("Shoes", {.stem_plurals = false}), "shoes");
}

TEST(Normalize, DropsStopWordsOnlyWhenAsked) {
  EXPECT_EQ(Normalize("shoes for the beach"), "shoe for the beach");
  EXPECT_EQ(Normalize("shoes for the beach", {.drop_stop_words = true}), "shoe beach");
}

TEST(Normalize, TreatsInvalidUtf8AsSeparatorWithoutReadingPastTheEnd) {
  EXPECT_EQ(Normalize("nike\xFF\xFEshoe\xE2\x82"), "nike shoe");
  EXPECT_EQ(Normalize("\xC0\xAF"), "");  // overlong '/'
}

TEST(Normalize, JoinsAcrossZeroWidthSpaces) {
  EXPECT_EQ(Normalize("run\xE2\x80\x8Bning"), "running");
}

TEST(Normalize, EmptyAndPunctuationOnlyQueriesGiveNoTokens) {
  EXPECT_TRUE(Tokenize("").empty());
  EXPECT_TRUE(Tokenize(" ?! -- ").empty());
}

TEST(Normalize, ReorderedPluralVariantsShareTheirTokenSet) {
  auto a = Tokenize("Nike Running Shoes");
  auto b = Tokenize("running shoe, nike");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace kvik::lsh
