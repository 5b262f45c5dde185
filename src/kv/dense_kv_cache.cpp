#include <cstdlib>
#include <cstring>
#include <string>

#include "kvik/kv_cache.h"
#include "kvik/quantize.h"

namespace kvik {

void DenseKvCache::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

Result<DenseKvCache> DenseKvCache::Create(const KvShape& shape, int64_t capacity_tokens) {
  if (shape.n_layers <= 0 || shape.n_kv_heads <= 0 || shape.head_dim <= 0 || capacity_tokens <= 0) {
    return InvalidArgument("KV cache: layers, kv heads, head size and capacity must be positive");
  }
  const DTypeInfo& info = Info(shape.dtype);
  if (!info.computable) {
    return Unimplemented("KV cache: dtype " + std::string(info.name) + " is not supported");
  }
  if (shape.head_dim % info.block_elements != 0) {
    return InvalidArgument("KV cache: dtype " + std::string(info.name) + " stores blocks of " +
                           std::to_string(info.block_elements) + " values, but head size is " +
                           std::to_string(shape.head_dim));
  }
  DenseKvCache cache;
  cache.shape_ = shape;
  cache.capacity_tokens_ = capacity_tokens;
  cache.run_bytes_ = shape.head_row_bytes() * capacity_tokens;
  cache.bytes_allocated_ = shape.bytes(capacity_tokens, 1);
  // 64-byte aligned so SIMD loads of a run's first row never split a cache line; aligned_alloc
  // needs a size that is a multiple of the alignment, so round the request (not the accounting) up.
  const uint64_t request = (cache.bytes_allocated_ + 63) / 64 * 64;
  auto* memory = static_cast<uint8_t*>(std::aligned_alloc(64, request));
  if (!memory) {
    return ResourceExhausted("KV cache: cannot allocate " + FormatBytes(cache.bytes_allocated_));
  }
  cache.storage_.reset(memory);
  return cache;
}

void DenseKvCache::Store(int64_t layer, int64_t position, const float* k, const float* v) {
  const uint64_t row_bytes = shape_.head_row_bytes();
  for (int64_t h = 0; h < shape_.n_kv_heads; ++h) {
    QuantizeRow(shape_.dtype, k + h * shape_.head_dim, shape_.head_dim,
                run(layer, 0, h) + position * row_bytes);
    QuantizeRow(shape_.dtype, v + h * shape_.head_dim, shape_.head_dim,
                run(layer, 1, h) + position * row_bytes);
  }
}

}  // namespace kvik
