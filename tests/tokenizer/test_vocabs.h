// Small vocabularies for tokenizer tests, built in code so each test can see exactly which pieces
// and merges exist.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "kvik/tokenizer.h"

namespace kvik::testing {

inline constexpr int32_t kSpmUnk = 0;
inline constexpr int32_t kSpmBos = 1;
inline constexpr int32_t kSpmEos = 2;
inline constexpr int32_t kSpmFirstByte = 3;  // <0x00> .. <0xFF> are ids 3..258, as in Llama-2

// A SentencePiece-style vocabulary: <unk>, <s>, </s>, 256 byte tokens, then `pieces` (text with
// "▁" for spaces, score) as normal tokens in the order given.
inline Vocab MakeSpmVocab(const std::vector<std::pair<std::string, float>>& pieces) {
  Vocab vocab;
  vocab.model = "llama";
  const auto add = [&](std::string text, float score, TokenType type) {
    vocab.tokens.push_back(std::move(text));
    vocab.scores.push_back(score);
    vocab.token_types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    add(name, 0, TokenType::kByte);
  }
  for (const auto& [text, score] : pieces) add(text, score, TokenType::kNormal);
  vocab.bos_id = kSpmBos;
  vocab.eos_id = kSpmEos;
  vocab.unk_id = kSpmUnk;
  return vocab;
}

// Pieces that make "hello world" merge in a known order (see the merge tests).
inline Vocab MakeHelloSpmVocab() {
  return MakeSpmVocab({
      {"\xE2\x96\x81", -1.0f},
      {"h", -2.0f},
      {"e", -2.0f},
      {"l", -2.0f},
      {"o", -2.0f},
      {"w", -2.0f},
      {"r", -2.0f},
      {"d", -2.0f},
      {"a", -2.0f},
      {"b", -2.0f},
      {"c", -2.0f},
      {"ll", -3.0f},
      {"llo", -4.0f},
      {"he", -5.0f},
      {"hello", -6.0f},
      {"\xE2\x96\x81hello", -7.0f},
      {"\xE2\x96\x81w", -8.0f},
      {"or", -9.0f},
      {"\xC3\xA9", -2.0f},  // é, so it is one piece and not two byte tokens
  });
}

}  // namespace kvik::testing
