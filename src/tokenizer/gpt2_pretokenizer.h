// GPT-2's pre-tokenizer, written out by hand instead of with a regex library. It splits text the
// way this pattern does, trying the alternatives in order at each position:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Approximation: \p{L} and \p{N} come from a compact table of common ranges (Latin, Greek,
// Cyrillic, Armenian, Hebrew, Arabic, Devanagari, Thai, Georgian, Hangul, kana, CJK ideographs,
// fullwidth forms, common digit blocks, superscripts, vulgar fractions, roman and circled
// numerals), not the full Unicode database. A letter or digit outside those ranges (e.g. from a
// rarer script) is classed as "other" and may be grouped with neighbouring punctuation instead.
// Combining marks are "other", as in the real \p{L}. Splitting never changes the bytes: the
// pieces always tile the text.
// Measured against Python's `regex` module: the classes are identical on Latin (U+0000-024F), IPA,
// Greek, Cyrillic, Armenian, Hebrew, Arabic, Devanagari, Thai, kana, CJK and Hangul; about 30k of
// the 196k code points below U+30000 differ, nearly all in scripts the table leaves out (Bengali,
// Tamil, Syriac, Ethiopic, ...). On 20k random strings mixing ASCII, accents, CJK, emoji, digits,
// marks and Unicode spaces, the split equals regex.findall of the pattern.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace kvik::tokenizer_internal {

bool IsUnicodeLetter(uint32_t code_point);
bool IsUnicodeNumber(uint32_t code_point);
bool IsUnicodeWhitespace(uint32_t code_point);

// Pieces of `text` in order; their concatenation is `text`.
std::vector<std::string_view> SplitGpt2(std::string_view text);

}  // namespace kvik::tokenizer_internal
