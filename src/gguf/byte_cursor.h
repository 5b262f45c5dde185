// A bounds-checked, little-endian read cursor over an immutable byte span. Every read either
// succeeds completely or leaves the cursor where it was and returns false, so a parser can report
// exactly what it was reading and where the bytes ran out.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

namespace kvik::gguf {

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian; kvik reads it with plain loads");

class ByteCursor {
 public:
  explicit ByteCursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return bytes_.size() - position_; }

  template <typename T>
  bool Read(T* out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return true;
  }

  // A view of the next `n` bytes (no copy).
  bool ReadView(uint64_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = std::string_view(reinterpret_cast<const char*>(bytes_.data()) + position_, n);
    position_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t position_ = 0;
};

// Overflow-checked arithmetic for sizes read from untrusted files: false when the exact result does
// not fit in 64 bits (then *out is unspecified).
inline bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

}  // namespace kvik::gguf
