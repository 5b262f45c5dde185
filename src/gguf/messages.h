// Small helpers for building the GGUF module's error messages.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace kvik::gguf {

// Concatenates anything streamable; used only on error paths, so clarity beats speed.
template <typename... Args>
std::string Concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// A key or tensor name as it should appear in a message: single-quoted, non-printable bytes as
// \xNN, cut after 80 bytes so a hostile 1 MB name cannot flood a log.
inline std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '\'') {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (text.size() > kMaxShown)
    out += Concat("...' (", text.size(), " bytes)");
  else
    out += '\'';
  return out;
}

}  // namespace kvik::gguf
