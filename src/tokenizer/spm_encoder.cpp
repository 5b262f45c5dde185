// SentencePiece BPE as llama.cpp's SPM tokenizer and llama2.c's encode do it: spaces become U+2581,
// an optional U+2581 is prepended, the text is split into UTF-8 characters, and the adjacent pair
// whose concatenation is a vocabulary piece with the highest score is merged until none is left.
// Characters that are not pieces fall back to their bytes as <0xNN> tokens.
#include <optional>

#include "tokenizer/symbol_merger.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_tables.h"

namespace kvik::tokenizer_internal {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

std::string EscapeSpaces(std::string_view text, bool add_space_prefix) {
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 2 + kSpaceMarker.size());
  if (add_space_prefix) escaped += kSpaceMarker;
  for (char c : text) {
    if (c == ' ') {
      escaped += kSpaceMarker;
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

}  // namespace

void EncodeSpm(const VocabTables& tables, std::string_view text, std::vector<int32_t>& out) {
  if (text.empty()) return;
  const std::string escaped = EscapeSpaces(text, tables.vocab.add_space_prefix);
  const std::string_view view = escaped;

  std::vector<SymbolSpan> characters;
  for (size_t pos = 0; pos < view.size();) {
    const size_t length = DecodeUtf8(view, pos).length;
    characters.push_back({pos, length});
    pos += length;
  }

  std::string key;  // reused: the hash map is keyed by std::string
  const PairPriority by_score = [&](std::string_view left,
                                    std::string_view right) -> std::optional<double> {
    key.assign(left.data(), left.size() + right.size());
    const auto it = tables.piece_to_id.find(key);
    if (it == tables.piece_to_id.end()) return std::nullopt;
    return tables.score_of(it->second);
  };

  for (const SymbolSpan& symbol : MergeSymbols(view, characters, by_score)) {
    key.assign(view.substr(symbol.offset, symbol.length));
    const auto it = tables.piece_to_id.find(key);
    if (it != tables.piece_to_id.end()) {
      out.push_back(it->second);
      continue;
    }
    // Only single characters can be missing (a merge always yields a piece): byte fallback.
    for (char byte : key) AppendByteToken(tables, static_cast<uint8_t>(byte), out);
  }
}

std::string SpmPiece(const VocabTables& tables, int32_t id) {
  const std::string& text = tables.vocab.tokens[id];
  switch (tables.type_of(id)) {
    case TokenType::kControl:
    case TokenType::kUnused:
      return "";
    case TokenType::kByte: {
      const int byte = ParseByteTokenName(text);
      return byte < 0 ? text : std::string(1, static_cast<char>(byte));
    }
    default: {
      std::string piece;
      piece.reserve(text.size());
      for (size_t pos = 0; pos < text.size();) {
        if (text.compare(pos, kSpaceMarker.size(), kSpaceMarker) == 0) {
          piece.push_back(' ');
          pos += kSpaceMarker.size();
        } else {
          piece.push_back(text[pos++]);
        }
      }
      return piece;
    }
  }
}

}  // namespace kvik::tokenizer_internal
