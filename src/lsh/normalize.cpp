// Query normalization: the same intent typed differently ("Nike  Running-Shoes!", "nike running
// shoe") must become the same token list before hashing, or MinHash sees different sets.
#include <xxhash.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "kvik/lsh.h"

namespace kvik::lsh {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes one UTF-8 code point at text[pos], advancing pos; malformed bytes give kInvalid and
// advance by one byte, so garbage input degrades to separators instead of reading past the end.
char32_t DecodeUtf8(std::string_view text, size_t& pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  int extra = lead >= 0xF5 ? -1 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC2 ? 1 : -1;
  if (extra < 0 || pos + extra >= text.size()) {
    ++pos;
    return kInvalid;
  }
  char32_t code = lead & (0x3F >> extra);
  for (int i = 1; i <= extra; ++i) {
    unsigned char next = byte(pos + i);
    if ((next & 0xC0) != 0x80) {
      ++pos;
      return kInvalid;
    }
    code = (code << 6) | (next & 0x3F);
  }
  // Reject overlong encodings and surrogates: they are not text.
  static constexpr std::array<char32_t, 4> kMinimum = {0, 0x80, 0x800, 0x10000};
  if (code < kMinimum[extra] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
    ++pos;
    return kInvalid;
  }
  pos += extra + 1;
  return code;
}

void AppendUtf8(char32_t code, std::string& out) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// Simple case folding for the scripts product queries mostly use; other scripts pass unchanged.
char32_t ToLower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) {
    return (c % 2 == 0) ? c + 1 : c;
  }
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

bool IsSpace(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsZeroWidth(char32_t c) { return (c >= 0x200B && c <= 0x200D) || c == 0xFEFF; }

bool IsApostrophe(char32_t c) { return c == '\'' || c == 0x2019 || c == 0x2018; }

bool IsPunctuation(char32_t c) {
  if (c < 0x80) return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  return (c >= 0xA1 && c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 ||
         c == 0xF7 || (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) ||
         (c >= 0x3001 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF0F);
}

bool IsDigit(char32_t c) { return c >= '0' && c <= '9'; }

bool IsAsciiWord(std::string_view token) {
  for (char c : token) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsStopWord(std::string_view token) {
  static constexpr std::array<std::string_view, 11> kStopWords = {
      "a", "an", "the", "for", "of", "with", "and", "in", "on", "to", "by"};
  for (auto word : kStopWords) {
    if (token == word) return true;
  }
  return false;
}

}  // namespace

std::string StemPlural(std::string_view token) {
  // Short words ("bus", "gas", "yes") and non-ASCII words are left alone: a wrong stem merges
  // unrelated queries, a missed one only costs recall.
  if (token.size() < 4 || !IsAsciiWord(token)) return std::string(token);
  if (EndsWith(token, "ies") && token.size() > 4) {
    return std::string(token.substr(0, token.size() - 3)) + "y";
  }
  if (EndsWith(token, "sses") || EndsWith(token, "xes") || EndsWith(token, "ches") ||
      EndsWith(token, "shes") || EndsWith(token, "zzes")) {
    return std::string(token.substr(0, token.size() - 2));
  }
  if (EndsWith(token, "ss") || EndsWith(token, "us") || EndsWith(token, "is")) {
    return std::string(token);
  }
  if (EndsWith(token, "s")) return std::string(token.substr(0, token.size() - 1));
  return std::string(token);
}

std::vector<std::string> Tokenize(std::string_view query, const NormalizeOptions& options) {
  std::vector<std::string> tokens;
  std::string current;
  const auto flush = [&] {
    if (current.empty()) return;
    std::string token = options.stem_plurals ? StemPlural(current) : current;
    current.clear();
    if (options.drop_stop_words && IsStopWord(token)) return;
    tokens.push_back(std::move(token));
  };
  char32_t previous = 0;
  size_t pos = 0;
  while (pos < query.size()) {
    char32_t c = DecodeUtf8(query, pos);
    if (c != kInvalid) c = ToLower(c);
    if (c == kInvalid || IsSpace(c)) {
      flush();
    } else if (IsZeroWidth(c)) {
      // Joins: "ru\u200Bnning" is "running".
    } else if (IsApostrophe(c)) {
      // Dropped inside a word ("men's" → "mens"); a separator elsewhere.
      size_t next_pos = pos;
      char32_t next = next_pos < query.size() ? ToLower(DecodeUtf8(query, next_pos)) : 0;
      if (current.empty() || next == 0 || IsSpace(next) || IsPunctuation(next)) flush();
    } else if ((c == '.' || c == ',') && IsDigit(previous) && pos < query.size() &&
               IsDigit(static_cast<unsigned char>(query[pos]))) {
      // "2.5" stays one token; "1,000" becomes "1000".
      if (c == '.') current.push_back('.');
    } else if (IsPunctuation(c)) {
      flush();
    } else {
      AppendUtf8(c, current);
    }
    previous = c;
  }
  flush();
  return tokens;
}

std::string Normalize(std::string_view query, const NormalizeOptions& options) {
  std::string joined;
  for (const auto& token : Tokenize(query, options)) {
    if (!joined.empty()) joined.push_back(' ');
    joined += token;
  }
  return joined;
}

uint64_t HashToken(std::string_view token) { return XXH3_64bits(token.data(), token.size()); }

}  // namespace kvik::lsh
