// UTF-8 helpers shared by the tokenizers. Malformed input never stops a tokenizer: a byte that does
// not start a valid sequence is treated as a one-byte "character" (it then goes out as a byte
// token).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvik::tokenizer_internal {

struct Utf8Char {
  uint32_t code_point;  // U+FFFD when the bytes were malformed
  size_t length;        // bytes consumed, >= 1
};

// Decodes the character starting at text[pos] (pos < text.size()). Rejects overlong forms,
// surrogates and values above U+10FFFF, so every accepted sequence re-encodes to the same bytes.
Utf8Char DecodeUtf8(std::string_view text, size_t pos);

void AppendUtf8(uint32_t code_point, std::string& out);

}  // namespace kvik::tokenizer_internal
