#include <cstdio>

#include "kvik/kv_layout.h"

namespace kvik {

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (value == static_cast<double>(static_cast<uint64_t>(value))) {
    std::snprintf(text, sizeof text, "%.0f %s", value, kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, value < 10 ? "%.2f %s" : value < 100 ? "%.1f %s" : "%.0f %s",
                  value, kUnits[unit]);
  }
  return text;
}

namespace {

Status ValidateDType(DType type, int64_t head_dim, const char* which) {
  const DTypeInfo& info = Info(type);
  if (!info.computable) {
    return Unimplemented(std::string("KV cache: ") + which + " type " + std::string(info.name) +
                         " is not supported (use f32, f16, bf16, q8_0 or q4_0)");
  }
  if (head_dim % info.block_elements != 0) {
    return InvalidArgument(std::string("KV cache: ") + which + " type " + std::string(info.name) +
                           " stores blocks of " + std::to_string(info.block_elements) +
                           " values, but the head size is " + std::to_string(head_dim));
  }
  return Status::Ok();
}

}  // namespace

Status KvShape::Validate() const {
  if (n_layers <= 0 || n_kv_heads <= 0 || head_dim <= 0) {
    return InvalidArgument("KV cache: layers, KV heads and head size must be positive");
  }
  KVIK_RETURN_IF_ERROR(ValidateDType(key_dtype, head_dim, "key"));
  return ValidateDType(value_dtype, head_dim, "value");
}

}  // namespace kvik
