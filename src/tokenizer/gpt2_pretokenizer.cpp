#include "tokenizer/gpt2_pretokenizer.h"

#include <algorithm>
#include <iterator>

#include "tokenizer/utf8.h"

namespace kvik::tokenizer_internal {
namespace {

struct Range {
  uint32_t first;
  uint32_t last;  // inclusive
};

// Sorted, non-overlapping. See the header for what these tables approximate.
// clang-format off
constexpr Range kLetterRanges[] = {
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00AA, 0x00AA},   {0x00B5, 0x00B5},
    {0x00BA, 0x00BA},   {0x00C0, 0x00D6},   {0x00D8, 0x00F6},   {0x00F8, 0x02C1},
    {0x02C6, 0x02D1},   {0x02E0, 0x02E4},   {0x02EC, 0x02EC},   {0x02EE, 0x02EE},
    {0x0370, 0x0374},   {0x0376, 0x0377},   {0x037A, 0x037D},   {0x037F, 0x037F},
    {0x0386, 0x0386},   {0x0388, 0x038A},   {0x038C, 0x038C},   {0x038E, 0x03A1},
    {0x03A3, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x052F},   {0x0531, 0x0556},
    {0x0559, 0x0559},   {0x0560, 0x0588},   {0x05D0, 0x05EA},   {0x05EF, 0x05F2},
    {0x0620, 0x064A},   {0x066E, 0x066F},   {0x0671, 0x06D3},   {0x06D5, 0x06D5},
    {0x06E5, 0x06E6},   {0x06EE, 0x06EF},   {0x06FA, 0x06FC},   {0x06FF, 0x06FF},
    {0x0904, 0x0939},   {0x093D, 0x093D},   {0x0950, 0x0950},   {0x0958, 0x0961},
    {0x0971, 0x0980},   {0x0E01, 0x0E30},   {0x0E32, 0x0E33},   {0x0E40, 0x0E46},
    {0x10A0, 0x10C5},   {0x10D0, 0x10FA},   {0x10FC, 0x1248},   {0x1E00, 0x1FBC},
    {0x1FC2, 0x1FCC},   {0x1FD0, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FFC},
    {0x2071, 0x2071},   {0x207F, 0x207F},   {0x2090, 0x209C},   {0x2102, 0x2102},
    {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},
    {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},   {0x212A, 0x212D},
    {0x212F, 0x2139},   {0x2C00, 0x2CE4},   {0x3005, 0x3006},   {0x3031, 0x3035},
    {0x303B, 0x303C},   {0x3041, 0x3096},   {0x309D, 0x309F},   {0x30A1, 0x30FA},
    {0x30FC, 0x30FF},   {0x3105, 0x312F},   {0x3131, 0x318E},   {0x31A0, 0x31BF},
    {0x31F0, 0x31FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA48C},
    {0xAC00, 0xD7A3},   {0xF900, 0xFA6D},   {0xFB00, 0xFB06},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0xFF66, 0xFFBE},   {0x20000, 0x2A6DF}, {0x2A700, 0x2EBE0},
};

constexpr Range kNumberRanges[] = {
    {0x0030, 0x0039},   {0x00B2, 0x00B3},   {0x00B9, 0x00B9},   {0x00BC, 0x00BE},
    {0x0660, 0x0669},   {0x06F0, 0x06F9},   {0x07C0, 0x07C9},   {0x0966, 0x096F},
    {0x09E6, 0x09EF},   {0x0A66, 0x0A6F},   {0x0AE6, 0x0AEF},   {0x0B66, 0x0B6F},
    {0x0BE6, 0x0BF2},   {0x0C66, 0x0C6F},   {0x0CE6, 0x0CEF},   {0x0D66, 0x0D78},
    {0x0E50, 0x0E59},   {0x0ED0, 0x0ED9},   {0x0F20, 0x0F33},   {0x1040, 0x1049},
    {0x1369, 0x137C},   {0x16EE, 0x16F0},   {0x17E0, 0x17E9},   {0x1810, 0x1819},
    {0x2070, 0x2070},   {0x2074, 0x2079},   {0x2080, 0x2089},   {0x2150, 0x2182},
    {0x2185, 0x2189},   {0x2460, 0x249B},   {0x24EA, 0x24FF},   {0x2776, 0x2793},
    {0x3007, 0x3007},   {0x3021, 0x3029},   {0x3038, 0x303A},   {0x3192, 0x3195},
    {0x3220, 0x3229},   {0x3248, 0x324F},   {0x3251, 0x325F},   {0x3280, 0x3289},
    {0x32B1, 0x32BF},   {0xFF10, 0xFF19},   {0x1D7CE, 0x1D7FF},
};
// clang-format on

template <size_t N>
bool InRanges(const Range (&ranges)[N], uint32_t code_point) {
  const auto* it =
      std::upper_bound(std::begin(ranges), std::end(ranges), code_point,
                       [](uint32_t value, const Range& range) { return value < range.first; });
  return it != std::begin(ranges) && code_point <= std::prev(it)->last;
}

enum class CharClass { kLetter, kNumber, kWhitespace, kOther };

CharClass Classify(uint32_t code_point) {
  if (IsUnicodeLetter(code_point)) return CharClass::kLetter;
  if (IsUnicodeNumber(code_point)) return CharClass::kNumber;
  if (IsUnicodeWhitespace(code_point)) return CharClass::kWhitespace;
  return CharClass::kOther;
}

// The text as a sequence of characters with their byte offsets, so the splitter can look ahead.
struct CharSequence {
  std::vector<size_t> offsets;  // offsets[i] = start of char i; offsets.back() = text size
  std::vector<CharClass> classes;
  std::vector<uint32_t> code_points;
};

CharSequence Scan(std::string_view text) {
  CharSequence chars;
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Char c = DecodeUtf8(text, pos);
    chars.offsets.push_back(pos);
    chars.code_points.push_back(c.code_point);
    chars.classes.push_back(Classify(c.code_point));
    pos += c.length;
  }
  chars.offsets.push_back(text.size());
  return chars;
}

// Length in characters of the contraction ('s 't 're 've 'm 'll 'd) at char i, or 0.
size_t ContractionLength(const CharSequence& chars, size_t i) {
  const size_t n = chars.code_points.size();
  if (chars.code_points[i] != '\'' || i + 1 >= n) return 0;
  const uint32_t c1 = chars.code_points[i + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (i + 2 >= n) return 0;
  const uint32_t c2 = chars.code_points[i + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

size_t RunEnd(const CharSequence& chars, size_t i, CharClass cls) {
  while (i < chars.classes.size() && chars.classes[i] == cls) ++i;
  return i;
}

// Length in characters of the piece starting at char i (always >= 1).
size_t PieceLength(const CharSequence& chars, size_t i) {
  const size_t n = chars.classes.size();
  if (const size_t contraction = ContractionLength(chars, i)) return contraction;
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional ASCII space, then a run of one class.
  size_t start = i;
  if (chars.code_points[i] == ' ' && i + 1 < n && chars.classes[i + 1] != CharClass::kWhitespace) {
    start = i + 1;
  }
  const CharClass cls = chars.classes[start];
  if (cls != CharClass::kWhitespace) return RunEnd(chars, start, cls) - i;
  // "\s+(?!\S)": the whitespace run, minus its last character when a non-space follows it (that
  // character then starts the next piece, e.g. as the " " of " word"); "\s+" when the run is one
  // char.
  const size_t end = RunEnd(chars, i, CharClass::kWhitespace);
  const size_t run = end - i;
  if (end == n || run == 1) return run;
  return run - 1;
}

}  // namespace

bool IsUnicodeLetter(uint32_t code_point) { return InRanges(kLetterRanges, code_point); }
bool IsUnicodeNumber(uint32_t code_point) { return InRanges(kNumberRanges, code_point); }

bool IsUnicodeWhitespace(uint32_t code_point) {
  switch (code_point) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return code_point >= 0x2000 && code_point <= 0x200A;
  }
}

std::vector<std::string_view> SplitGpt2(std::string_view text) {
  const CharSequence chars = Scan(text);
  const size_t n = chars.classes.size();
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < n;) {
    const size_t length = PieceLength(chars, i);
    pieces.push_back(text.substr(chars.offsets[i], chars.offsets[i + length] - chars.offsets[i]));
    i += length;
  }
  return pieces;
}

}  // namespace kvik::tokenizer_internal
