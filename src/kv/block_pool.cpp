#include "kv/block_pool.h"

#include <cassert>
#include <cstdlib>
#include <string>

namespace kvik::kv {

Result<std::unique_ptr<BlockPool>> BlockPool::Create(const KvShape& shape, int64_t block_size,
                                                     int64_t n_blocks) {
  KVIK_RETURN_IF_ERROR(shape.Validate());
  if (block_size <= 0) return InvalidArgument("KV cache: block size must be positive");
  if (n_blocks <= 0) {
    return InvalidArgument("KV cache: the budget holds no block of " + std::to_string(block_size) +
                           " tokens (" + FormatBytes(shape.bytes_per_token() * block_size) + ")");
  }
  if (n_blocks > (int64_t{1} << 30)) return InvalidArgument("KV cache: too many blocks");
  std::unique_ptr<BlockPool> pool(new BlockPool());
  pool->shape_ = shape;
  pool->block_size_ = block_size;
  pool->n_blocks_ = n_blocks;
  pool->bytes_per_block_ = shape.bytes_per_token() * block_size;
  const uint64_t bytes = pool->bytes_allocated();
  // 64-byte aligned so SIMD loads of a run's first row never split a cache line. On huge pages:
  // decode attention reads every cached row of a sequence per token, and with 4 KiB pages
  // (bench/attention_bench, KVIK_BENCH_SMALL_PAGES=1) a layer's decode attention at 2,048 tokens
  // took 10-20% longer. The cost: a touched region is resident 2 MiB at a time, as if the pool were
  // allocated up front, which llama.cpp and vLLM do anyway.
  pool->storage_ = AllocateLargePages(bytes);
  if (!pool->storage_) return ResourceExhausted("KV cache: cannot allocate " + FormatBytes(bytes));
  pool->refcount_.assign(n_blocks, 0);
  pool->on_free_list_.assign(n_blocks, 1);
  pool->lru_prev_.assign(n_blocks, kNoBlock);
  pool->lru_next_.assign(n_blocks, kNoBlock);
  pool->free_list_.reserve(n_blocks);
  for (int64_t id = n_blocks - 1; id >= 0; --id)
    pool->free_list_.push_back(static_cast<int32_t>(id));
  pool->n_free_ = n_blocks;
  return pool;
}

uint64_t BlockPool::key_region(int64_t layer, int64_t kv_head) const {
  const uint64_t layer_bytes =
      shape_.n_kv_heads * (key_run_bytes() + value_run_bytes()) * n_blocks_;
  return layer * layer_bytes + kv_head * key_run_bytes() * n_blocks_;
}

uint64_t BlockPool::value_region(int64_t layer, int64_t kv_head) const {
  return key_region(layer, shape_.n_kv_heads) + kv_head * value_run_bytes() * n_blocks_;
}

int32_t BlockPool::Allocate(int32_t* evicted) {
  *evicted = kNoBlock;
  int32_t id = kNoBlock;
  if (!free_list_.empty()) {
    id = free_list_.back();
    free_list_.pop_back();
    on_free_list_[id] = 0;
    --n_free_;
  } else if (lru_head_ != kNoBlock) {
    id = lru_head_;
    LruRemove(id);
    --n_cached_;
    ++evictions_;
    *evicted = id;
  } else {
    return kNoBlock;
  }
  refcount_[id] = 1;
  return id;
}

void BlockPool::Retain(int32_t id) {
  assert(!on_free_list_[id]);
  if (refcount_[id] == 0) {
    LruRemove(id);
    --n_cached_;
  }
  ++refcount_[id];
}

void BlockPool::Release(int32_t id, bool keep_cached) {
  assert(refcount_[id] > 0);
  if (--refcount_[id] > 0) return;
  if (keep_cached) {
    LruPushBack(id);
    ++n_cached_;
  } else {
    free_list_.push_back(id);
    on_free_list_[id] = 1;
    ++n_free_;
  }
}

void BlockPool::Forget(int32_t id) {
  assert(refcount_[id] == 0 && !on_free_list_[id]);
  LruRemove(id);
  --n_cached_;
  free_list_.push_back(id);
  on_free_list_[id] = 1;
  ++n_free_;
}

void BlockPool::LruPushBack(int32_t id) {
  lru_prev_[id] = lru_tail_;
  lru_next_[id] = kNoBlock;
  if (lru_tail_ != kNoBlock) lru_next_[lru_tail_] = id;
  lru_tail_ = id;
  if (lru_head_ == kNoBlock) lru_head_ = id;
}

void BlockPool::LruRemove(int32_t id) {
  const int32_t prev = lru_prev_[id], next = lru_next_[id];
  (prev != kNoBlock ? lru_next_[prev] : lru_head_) = next;
  (next != kNoBlock ? lru_prev_[next] : lru_tail_) = prev;
  lru_prev_[id] = lru_next_[id] = kNoBlock;
}

bool BlockPool::CheckInvariants() const {
  int64_t free = 0, cached = 0, used = 0;
  for (int64_t id = 0; id < n_blocks_; ++id) {
    if (refcount_[id] < 0) return false;
    if (on_free_list_[id]) {
      if (refcount_[id] != 0) return false;
      ++free;
    } else if (refcount_[id] == 0) {
      ++cached;
    } else {
      ++used;
    }
  }
  int64_t on_lru = 0;
  for (int32_t id = lru_head_; id != kNoBlock; id = lru_next_[id]) {
    if (refcount_[id] != 0 || on_free_list_[id] || ++on_lru > n_blocks_) return false;
  }
  return free == n_free_ && free == static_cast<int64_t>(free_list_.size()) &&
         cached == n_cached_ && on_lru == cached && used == n_used();
}

}  // namespace kvik::kv
