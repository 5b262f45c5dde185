// GPT-2 byte-level BPE: every byte is first mapped to a printable code point (so a token's text is
// valid UTF-8 whatever bytes it stands for), the text is pre-tokenized with GPT-2's split, and each
// piece is merged by rank: the adjacent pair "left right" listed earliest in tokenizer.ggml.merges
// merges first.
#include <array>
#include <optional>

#include "tokenizer/gpt2_pretokenizer.h"
#include "tokenizer/symbol_merger.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_tables.h"

namespace kvik::tokenizer_internal {
namespace {

bool IsPrintableInGpt2Map(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes keep their code point; the other 68 bytes are
// given U+0100, U+0101, ... in byte order (so a space becomes U+0120 "Ġ").
struct ByteMap {
  std::array<std::string, 256> byte_to_text;
  std::array<uint32_t, 256> byte_to_code_point;

  ByteMap() {
    uint32_t next_unprintable = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const uint32_t cp = IsPrintableInGpt2Map(byte) ? byte : next_unprintable++;
      byte_to_code_point[byte] = cp;
      AppendUtf8(cp, byte_to_text[byte]);
    }
  }

  // The byte a mapped code point stands for, or -1.
  int ByteOf(uint32_t code_point) const {
    if (code_point < 256 && IsPrintableInGpt2Map(static_cast<int>(code_point))) {
      return static_cast<int>(code_point);
    }
    for (int byte = 0; byte < 256; ++byte) {
      if (byte_to_code_point[byte] == code_point) return byte;
    }
    return -1;
  }
};

const ByteMap& GetByteMap() {
  static const ByteMap map;
  return map;
}

void EncodePiece(const VocabTables& tables, std::string_view piece, std::vector<int32_t>& out) {
  const ByteMap& byte_map = GetByteMap();
  std::string mapped;
  std::vector<SymbolSpan> characters;
  for (char c : piece) {
    const std::string& text = byte_map.byte_to_text[static_cast<uint8_t>(c)];
    characters.push_back({mapped.size(), text.size()});
    mapped += text;
  }
  const std::string_view view = mapped;

  std::string key;
  const PairPriority by_rank = [&](std::string_view left,
                                   std::string_view right) -> std::optional<double> {
    key.assign(left);
    key.push_back(' ');
    key.append(right);
    const auto it = tables.merge_rank.find(key);
    if (it == tables.merge_rank.end()) return std::nullopt;
    return -static_cast<double>(it->second);  // lower rank = merged earlier
  };

  for (const SymbolSpan& symbol : MergeSymbols(view, characters, by_rank)) {
    key.assign(view.substr(symbol.offset, symbol.length));
    if (const auto it = tables.piece_to_id.find(key); it != tables.piece_to_id.end()) {
      out.push_back(it->second);
      continue;
    }
    // A merge listed in the merges but whose result is missing from the vocabulary (a malformed
    // tokenizer) or a byte without a token: fall back to one token per mapped byte.
    for (size_t pos = 0; pos < key.size();) {
      const Utf8Char c = DecodeUtf8(key, pos);
      const auto it = tables.piece_to_id.find(key.substr(pos, c.length));
      if (it != tables.piece_to_id.end()) {
        out.push_back(it->second);
      } else {
        const int byte = byte_map.ByteOf(c.code_point);
        if (byte >= 0) AppendByteToken(tables, static_cast<uint8_t>(byte), out);
      }
      pos += c.length;
    }
  }
}

}  // namespace

void EncodeByteLevel(const VocabTables& tables, std::string_view text, std::vector<int32_t>& out) {
  for (std::string_view piece : SplitGpt2(text)) EncodePiece(tables, piece, out);
}

std::string ByteLevelPiece(const VocabTables& tables, int32_t id) {
  const std::string& text = tables.vocab.tokens[id];
  switch (tables.type_of(id)) {
    case TokenType::kControl:
    case TokenType::kUnused:
      return "";
    case TokenType::kByte: {
      const int byte = ParseByteTokenName(text);
      if (byte >= 0) return std::string(1, static_cast<char>(byte));
      break;
    }
    default:
      break;
  }
  // Map each code point back to its byte; code points outside the byte map (e.g. user-defined
  // tokens written as plain text) are kept as they are.
  const ByteMap& byte_map = GetByteMap();
  std::string piece;
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8(text, pos);
    const int byte = byte_map.ByteOf(c.code_point);
    if (byte >= 0) {
      piece.push_back(static_cast<char>(byte));
    } else {
      piece.append(text, pos, c.length);
    }
    pos += c.length;
  }
  return piece;
}

}  // namespace kvik::tokenizer_internal
