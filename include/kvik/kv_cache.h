// A dense KV cache for one sequence: one allocation of exactly KvShape::bytes(capacity, 1) bytes,
// made once, written as tokens are decoded and read by attention.
//
// Layout: [layer][K=0|V=1][kv_head][position][head_dim], each row stored as `dtype`. Decode attention
// for one (layer, head) then streams that head's keys, and later its values, from one contiguous run.
#pragma once

#include <cstdint>
#include <memory>

#include "kvik/kv_layout.h"
#include "kvik/status.h"

namespace kvik {

class DenseKvCache {
 public:
  // ResourceExhausted if the allocation fails; InvalidArgument if `dtype` can't store a head row
  // (block types need head_dim to be a multiple of 32).
  static Result<DenseKvCache> Create(const KvShape& shape, int64_t capacity_tokens);

  const KvShape& shape() const { return shape_; }
  int64_t capacity_tokens() const { return capacity_tokens_; }
  // Bytes held: exactly shape().bytes(capacity_tokens(), 1).
  uint64_t bytes_allocated() const { return bytes_allocated_; }
  // Bytes holding live tokens: shape().bytes(n_tokens(), 1).
  uint64_t bytes_used() const { return shape_.bytes(n_tokens_, 1); }

  // Tokens whose K/V are complete in every layer. The model advances it after a forward pass.
  int64_t n_tokens() const { return n_tokens_; }
  void set_n_tokens(int64_t n) { n_tokens_ = n; }
  void Clear() { n_tokens_ = 0; }

  // Stores (converting to dtype) the K and V of one token for one layer; k and v hold
  // n_kv_heads · head_dim floats, head-major.
  void Store(int64_t layer, int64_t position, const float* k, const float* v);

  // Start of the run of `capacity_tokens` rows of one head (rows head_row_bytes() apart).
  const uint8_t* keys(int64_t layer, int64_t kv_head) const { return run(layer, 0, kv_head); }
  const uint8_t* values(int64_t layer, int64_t kv_head) const { return run(layer, 1, kv_head); }

 private:
  DenseKvCache() = default;
  const uint8_t* run(int64_t layer, int kv, int64_t kv_head) const {
    return storage_.get() + ((layer * 2 + kv) * shape_.n_kv_heads + kv_head) * run_bytes_;
  }
  uint8_t* run(int64_t layer, int kv, int64_t kv_head) {
    return storage_.get() + ((layer * 2 + kv) * shape_.n_kv_heads + kv_head) * run_bytes_;
  }

  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  KvShape shape_;
  int64_t capacity_tokens_ = 0;
  int64_t n_tokens_ = 0;
  uint64_t run_bytes_ = 0;  // capacity_tokens · head_row_bytes
  uint64_t bytes_allocated_ = 0;
  std::unique_ptr<uint8_t, FreeDeleter> storage_;
};

}  // namespace kvik
