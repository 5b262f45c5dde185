// Spelling correction for the semantic cache: one-edit typos ("runing", "sheos", "jackett") of
// frequent log tokens. An unseen token otherwise gets the rarest IDF weight and pushes a query away
// from its intent. Candidates are found SymSpell-style (Garbe 2012): every correction target is
// stored under its own hash and under the hash of each one-letter deletion, so a token one
// Damerau edit away shares a key with it, without the target's text being needed at lookup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsh/index_format.h"

namespace kvik::lsh::typo {

// Only ASCII-letter tokens are corrected: digits carry meaning ("x1000" vs "x2000"), and bytes of
// other scripts are not letters. Short words are often one edit from another real word
// ("bag"/"bat"), so targets need 5 letters and typos 4 (a dropped letter of a 5-letter word).
inline constexpr size_t kMinTargetLength = 5;
inline constexpr size_t kMinTypoLength = 4;
inline constexpr uint32_t kWholeWord = UINT32_MAX;  // TypoEntry::position of the target itself

bool IsCorrectable(std::string_view token);

struct Deletion {
  std::string text;   // the token without one letter
  uint32_t position;  // where the letter was: the start of its run ("boook" → 1 for any 'o')
  uint32_t run;       // length of that run of equal letters in the token (3 for "boook")
  char letter;        // the letter deleted
};
// One per run of equal letters (deleting any letter of a run gives the same text).
std::vector<Deletion> Deletions(std::string_view token);

// The entries that make `target` findable: its whole hash and one per deletion.
void AddTarget(std::string_view target, std::vector<format::TypoEntry>& out);

// Looks up the entries stored under a key hash (a sorted range), for the matcher below.
struct EntryRange {
  const format::TypoEntry* begin;
  const format::TypoEntry* end;
};

// The one target within a Damerau edit (insertion, deletion, substitution or adjacent
// transposition) of `token`, or nullopt when there is none or more than one (ambiguous: a typo of
// "brami" or of "brama" must not be guessed). `lookup(hash)` returns the entries with that key.
template <typename Lookup>
std::optional<uint64_t> UniqueTarget(std::string_view token, Lookup lookup);

// Optimal string alignment distance ≤ 1, for tests and checks.
bool WithinOneEdit(std::string_view a, std::string_view b);

// ---- implementation of the template ----

uint64_t KeyHash(std::string_view text);

template <typename Lookup>
std::optional<uint64_t> UniqueTarget(std::string_view token, Lookup lookup) {
  if (token.size() < kMinTypoLength || !IsCorrectable(token)) return std::nullopt;
  std::optional<uint64_t> found;
  bool ambiguous = false;
  const uint64_t self = KeyHash(token);
  auto consider = [&](uint64_t target) {
    if (target == self) return;  // the token is itself a target: nothing to correct
    if (found && *found != target) ambiguous = true;
    found = target;
  };
  // The token lacks a letter of the target: it equals one of the target's deletions.
  EntryRange range = lookup(self);
  for (const auto* e = range.begin; e != range.end; ++e) {
    if (e->position != kWholeWord) consider(e->target_hash);
  }
  for (const Deletion& d : Deletions(token)) {
    range = lookup(KeyHash(d.text));
    for (const auto* e = range.begin; e != range.end; ++e) {
      if (e->position == kWholeWord) {
        consider(e->target_hash);  // the token has an extra letter
        continue;
      }
      // Both words are the deleted text with a letter inserted; inserting X anywhere in (or next
      // to) a run of X gives the same word, so each side is an interval of insertion points.
      // Different letters at a common point: a substitution. The same letter at neighbouring
      // points: an adjacent transposition (X moves across the letter between them).
      const uint32_t query_first = d.position, query_last = d.position + d.run - 1;
      const uint32_t target_first = e->position, target_last = e->position + (e->letter >> 8) - 1;
      if (static_cast<char>(e->letter & 0xFF) != d.letter) {
        if (query_first <= target_last && target_first <= query_last) consider(e->target_hash);
      } else if (query_last + 1 == target_first || target_last + 1 == query_first) {
        consider(e->target_hash);
      }
    }
  }
  if (ambiguous) return std::nullopt;
  return found;
}

}  // namespace kvik::lsh::typo
