// The KV-cache memory formula. Every token keeps, in every layer, one key and one value vector per KV
// head, so a cache for S tokens of B sequences needs
//     bytes = 2 · L · H_kv · d_h · S · B · s
// (2 = K and V; L layers; H_kv KV heads; d_h head size; s bytes per element). For block-quantized
// types "d_h · s" is the row's storage bytes (Q8_0: 34 bytes per 32 values), so the formula stays exact.
// Keys and values may use different types (llama.cpp's --cache-type-k/-v); then the "2 · … · s" term
// is the sum of a key row and a value row.
#pragma once

#include <cstdint>
#include <string>

#include "kvik/dtype.h"
#include "kvik/status.h"

namespace kvik {

struct KvShape {
  int64_t n_layers = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  DType key_dtype = DType::kF32;
  DType value_dtype = DType::kF32;

  // Bytes one head's K (or V) vector of one token takes: d_h · s.
  uint64_t key_row_bytes() const { return RowBytes(key_dtype, head_dim); }
  uint64_t value_row_bytes() const { return RowBytes(value_dtype, head_dim); }
  // 2 · L · H_kv · d_h · s: what each token adds to the cache.
  uint64_t bytes_per_token() const {
    return n_layers * n_kv_heads * (key_row_bytes() + value_row_bytes());
  }
  // 2 · L · H_kv · d_h · S · B · s.
  uint64_t bytes(int64_t context_tokens, int64_t batch) const {
    return bytes_per_token() * context_tokens * batch;
  }
  // Ok, or why this shape can't be stored: non-positive sizes, a type kvik has no kernels for, or a
  // block type whose block (32 values) does not divide the head size.
  Status Validate() const;
};

// "512 MiB", "1.50 GiB", "96.0 KiB", "100 B": binary units, three significant digits.
std::string FormatBytes(uint64_t bytes);

}  // namespace kvik
