#include "lsh/typo.h"

#include <algorithm>

#include "kvik/lsh.h"

namespace kvik::lsh::typo {

bool IsCorrectable(std::string_view token) {
  return std::all_of(token.begin(), token.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

uint64_t KeyHash(std::string_view text) { return HashToken(text); }

std::vector<Deletion> Deletions(std::string_view token) {
  std::vector<Deletion> out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size(); ++i) {
    if (i > 0 && token[i] == token[i - 1]) continue;  // same text as deleting the run's start
    std::string text;
    text.reserve(token.size() - 1);
    text.append(token.substr(0, i)).append(token.substr(i + 1));
    size_t run = 1;
    while (i + run < token.size() && token[i + run] == token[i]) ++run;
    out.push_back(
        {std::move(text), static_cast<uint32_t>(i), static_cast<uint32_t>(run), token[i]});
  }
  return out;
}

void AddTarget(std::string_view target, std::vector<format::TypoEntry>& out) {
  const uint64_t target_hash = KeyHash(target);
  out.push_back({target_hash, target_hash, kWholeWord, 0});
  for (const Deletion& d : Deletions(target)) {
    out.push_back({KeyHash(d.text), target_hash, d.position,
                   (d.run << 8) | static_cast<unsigned char>(d.letter)});
  }
}

bool WithinOneEdit(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  size_t prefix = 0;
  while (prefix < a.size() && a[prefix] == b[prefix]) ++prefix;
  if (a.size() != b.size()) return a.substr(prefix) == b.substr(prefix + 1);
  if (prefix == a.size()) return true;
  if (a.substr(prefix + 1) == b.substr(prefix + 1)) return true;  // substitution
  return prefix + 1 < a.size() && a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix] &&
         a.substr(prefix + 2) == b.substr(prefix + 2);  // adjacent transposition
}

}  // namespace kvik::lsh::typo
