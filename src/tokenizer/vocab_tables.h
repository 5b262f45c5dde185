// Lookup tables built once from a Vocab and shared by the encoders and the decoder.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "kvik/tokenizer.h"

namespace kvik::tokenizer_internal {

struct VocabTables {
  Vocab vocab;
  // Pieces that plain text can turn into (normal and user-defined tokens; first id wins on
  // duplicates). Control, unknown, unused and byte tokens are left out, so text such as "<s>" is
  // never read as a control token.
  std::unordered_map<std::string, int32_t> piece_to_id;
  std::array<int32_t, 256> byte_to_id;  // byte tokens (<0xNN>); -1 where the vocabulary has none
  std::unordered_map<std::string, int32_t> merge_rank;  // gpt2: "left right" -> rank
  std::vector<std::string> decoded_pieces;              // TokenToPiece for every id

  // Effective type of every id: token_type as given (0, llama.cpp's "undefined", read as normal);
  // without token types, BOS/EOS/padding are control, UNK unknown, "<0xNN>" pieces of a llama
  // vocabulary bytes, and the rest normal.
  std::vector<TokenType> types;
  // Control and user-defined tokens by their text, longest first: what Encode(parse_special) looks
  // for in a prompt ("<|im_start|>", "<s>", …).
  std::vector<std::pair<std::string, int32_t>> specials;

  TokenType type_of(int32_t id) const { return types[id]; }
  float score_of(int32_t id) const { return vocab.scores.empty() ? 0.0f : vocab.scores[id]; }
};

// Appends the byte token for `byte`, or the unknown token when the vocabulary has no byte token for
// it (and nothing when it has neither: that byte cannot be represented).
void AppendByteToken(const VocabTables& tables, uint8_t byte, std::vector<int32_t>& out);

// Parses "<0xNN>" (two hex digits, either case); -1 when `text` is not a byte-token name.
int ParseByteTokenName(const std::string& text);

// SentencePiece BPE ("llama"): see tokenizer.h. Appends to `out`.
void EncodeSpm(const VocabTables& tables, std::string_view text, std::vector<int32_t>& out);
std::string SpmPiece(const VocabTables& tables, int32_t id);

// Byte-level BPE ("gpt2"). Appends to `out`.
void EncodeByteLevel(const VocabTables& tables, std::string_view text, std::vector<int32_t>& out);
std::string ByteLevelPiece(const VocabTables& tables, int32_t id);

}  // namespace kvik::tokenizer_internal
