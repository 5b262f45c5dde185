#include "model/synthetic_vocab.h"

#include <cstdio>
#include <set>

#include "kvik/tokenizer.h"

namespace kvik {
namespace {

const char* const kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Common English words: the whole-word pieces a tokenizer should find first.
const char* const kWords[] = {
    "the", "and", "was", "to", "a", "he", "she", "it", "of", "in", "that", "is", "for", "on",
    "with", "as", "they", "his", "her", "at", "be", "one", "day", "time", "once", "upon", "there",
    "little", "big", "said", "had", "were", "you", "we", "have", "not", "but", "what", "all", "so",
    "very", "happy", "play", "friend", "went", "saw", "cat", "dog", "tree", "sun", "yesterday",
    "worked", "work", "i", "me", "my", "go", "come", "see", "look", "want", "like", "love", "good",
    "new", "old", "run", "jump", "home", "mom", "dad", "girl", "boy", "named", "lily", "tom",
    "ball", "park", "red", "blue", "green", "toy", "car", "bird", "fish", "water", "sky", "food",
    "eat", "then", "when", "up", "down", "out", "too", "can", "did", "do", "are", "from", "this",
};

}  // namespace

SyntheticVocab MakeSyntheticVocab(int64_t size) {
  SyntheticVocab v;
  std::set<std::string> seen;
  auto add = [&](std::string piece, int32_t type) {
    if (static_cast<int64_t>(v.tokens.size()) >= size || !seen.insert(piece).second) return;
    // Earlier pieces score higher, so the SentencePiece merger prefers them.
    v.scores.push_back(type == static_cast<int32_t>(TokenType::kNormal)
                           ? -static_cast<float>(v.tokens.size())
                           : 0.0f);
    v.tokens.push_back(std::move(piece));
    v.types.push_back(type);
  };
  add("<unk>", static_cast<int32_t>(TokenType::kUnknown));
  add("<s>", static_cast<int32_t>(TokenType::kControl));
  add("</s>", static_cast<int32_t>(TokenType::kControl));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    add(name, static_cast<int32_t>(TokenType::kByte));
  }
  const int32_t normal = static_cast<int32_t>(TokenType::kNormal);
  // Single characters first (every merge path starts from them), then the space-prefixed letters.
  for (char ch = 'a'; ch <= 'z'; ++ch) add(std::string(1, ch), normal);
  add(kSpace, normal);
  for (char ch = 'a'; ch <= 'z'; ++ch) add(kSpace + std::string(1, ch), normal);
  for (char ch = 'A'; ch <= 'Z'; ++ch) add(std::string(1, ch), normal);
  for (const char* p = ".,!?'\"-:;()0123456789"; *p; ++p) add(std::string(1, *p), normal);
  // Whole words need every prefix on their merge path: "▁t", "▁th", "▁the".
  for (const char* word : kWords) {
    std::string piece = kSpace;
    for (const char* c = word; *c; ++c) {
      piece += *c;
      add(piece, normal);
    }
  }
  // Fill the rest with letter bigrams and trigrams, plain and space-prefixed.
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b) add(std::string{a, b}, normal);
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b) add(kSpace + std::string{a, b}, normal);
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b)
      for (char c = 'a'; c <= 'z'; ++c) add(std::string{a, b, c}, normal);
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b)
      for (char c = 'a'; c <= 'z'; ++c) add(kSpace + std::string{a, b, c}, normal);
  // Numbered filler pieces if a preset asks for more than the letter combinations give.
  for (int64_t i = 0; static_cast<int64_t>(v.tokens.size()) < size; ++i) {
    add("<unused" + std::to_string(i) + ">", static_cast<int32_t>(TokenType::kUnused));
  }
  return v;
}

}  // namespace kvik
