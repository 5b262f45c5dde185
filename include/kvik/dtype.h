// Element types of tensors and KV caches, with their storage geometry.
// Ids are ggml's (GGUF stores them), so a GGUF tensor type converts to DType by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kvik {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,   // blocks of 32: {f16 d; u8 q[16]}; low nibble = element j, high = j+16; x = (q-8)*d
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,   // blocks of 32: {f16 d; i8 q[32]}; x = q*d
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct DTypeInfo {
  DType type;
  std::string_view name;     // as llama.cpp prints it: "f32", "q8_0", ...
  uint32_t block_elements;   // elements per storage block (1 for plain types)
  uint32_t block_bytes;      // bytes per storage block
  bool computable;           // kvik has kernels for it (the others are only read/validated)
};

// Geometry of every type GGUF files in the wild use, so the reader can validate sizes of tensors kvik
// cannot compute with (and say so clearly) instead of rejecting the file as corrupt.
inline constexpr DTypeInfo kDTypeTable[] = {
    {DType::kF32, "f32", 1, 4, true},       {DType::kF16, "f16", 1, 2, true},
    {DType::kQ4_0, "q4_0", 32, 18, true},   {DType::kQ4_1, "q4_1", 32, 20, false},
    {DType::kQ5_0, "q5_0", 32, 22, false},  {DType::kQ5_1, "q5_1", 32, 24, false},
    {DType::kQ8_0, "q8_0", 32, 34, true},   {DType::kQ8_1, "q8_1", 32, 36, false},
    {DType::kQ2_K, "q2_K", 256, 84, false}, {DType::kQ3_K, "q3_K", 256, 110, false},
    {DType::kQ4_K, "q4_K", 256, 144, false}, {DType::kQ5_K, "q5_K", 256, 176, false},
    {DType::kQ6_K, "q6_K", 256, 210, false}, {DType::kQ8_K, "q8_K", 256, 292, false},
    {DType::kI8, "i8", 1, 1, false},        {DType::kI16, "i16", 1, 2, false},
    {DType::kI32, "i32", 1, 4, false},      {DType::kI64, "i64", 1, 8, false},
    {DType::kF64, "f64", 1, 8, false},      {DType::kBF16, "bf16", 1, 2, true},
};

// nullptr when `raw` is no type kvik knows (the GGUF reader reports that as an error).
inline constexpr const DTypeInfo* FindDType(uint32_t raw) {
  for (const auto& info : kDTypeTable)
    if (static_cast<uint32_t>(info.type) == raw) return &info;
  return nullptr;
}
inline constexpr const DTypeInfo& Info(DType t) { return *FindDType(static_cast<uint32_t>(t)); }
inline constexpr std::string_view Name(DType t) { return Info(t).name; }

inline std::optional<DType> ParseDType(std::string_view name) {
  for (const auto& info : kDTypeTable)
    if (info.name == name) return info.type;
  return std::nullopt;
}

// Bytes of a row of `n_elements` (must be a multiple of the block size; callers validate).
inline constexpr uint64_t RowBytes(DType t, uint64_t n_elements) {
  const auto& info = Info(t);
  return n_elements / info.block_elements * info.block_bytes;
}

}  // namespace kvik
