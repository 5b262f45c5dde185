// Test helper: builds GGUF bytes by hand, field by field, independently of gguf::Writer, so reader
// tests do not inherit a mistake the writer and reader might share, and malformed files are easy.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace kvik::gguf::testing {

// Value type ids from the GGUF spec, spelled out here rather than taken from gguf.h.
enum TypeId : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
// Tensor type ids (ggml).
enum TensorTypeId : uint32_t { kTensorF32 = 0, kTensorF16 = 1, kTensorQ4_0 = 2, kTensorQ8_0 = 8 };

class GgufBytes {
 public:
  template <typename T>
  GgufBytes& Put(T value) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
    return *this;
  }
  GgufBytes& U8(uint8_t v) { return Put(v); }
  GgufBytes& U32(uint32_t v) { return Put(v); }
  GgufBytes& U64(uint64_t v) { return Put(v); }
  GgufBytes& Str(std::string_view text) {
    U64(text.size());
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    return *this;
  }
  // "GGUF", version, tensor count, metadata count.
  GgufBytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_metadata) {
    return U32(0x46554747)  // "GGUF" as little-endian bytes
        .U32(version)
        .U64(n_tensors)
        .U64(n_metadata);
  }
  // Key and value type; the caller appends the value.
  GgufBytes& Key(std::string_view key, uint32_t type) { return Str(key).U32(type); }
  GgufBytes& KeyU32(std::string_view key, uint32_t value) { return Key(key, kU32).U32(value); }
  GgufBytes& KeyString(std::string_view key, std::string_view value) {
    return Key(key, kString).Str(value);
  }
  GgufBytes& TensorInfo(std::string_view name, std::initializer_list<uint64_t> dims, uint32_t type,
                        uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t dim : dims) U64(dim);
    return U32(type).U64(offset);
  }
  GgufBytes& ZeroPadTo(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  GgufBytes& Fill(size_t count, uint8_t value) {
    bytes_.insert(bytes_.end(), count, value);
    return *this;
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// A file with one f32 tensor "t" of `n_elements` (a multiple of 8, so its data ends exactly at the
// end of the file and every truncation cuts something the reader needs).
inline std::vector<uint8_t> SmallValidFile(uint32_t version = 3, uint64_t n_elements = 8) {
  GgufBytes b;
  b.Header(version, 1, 2).KeyString("general.architecture", "llama").KeyU32("llama.block_count", 1);
  b.TensorInfo("t", {n_elements}, kTensorF32, 0).ZeroPadTo(32);
  for (uint64_t i = 0; i < n_elements; ++i) b.Put(static_cast<float>(i));
  return b.bytes();
}

}  // namespace kvik::gguf::testing
