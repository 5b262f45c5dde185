// The physical KV memory: one allocation split into `n_blocks` blocks of `block_size` tokens, with
// a reference count per block, a free list, and an LRU list of cached blocks (refcount 0 but still
// holding a prefix the index can hand out again). vLLM's block_pool.py plays the same role.
//
// Layout: run-major. A block holds, for every (layer, K|V, kv_head), a "run" of `block_size`
// consecutive rows; the pool keeps each (layer, K|V, kv_head)'s runs of all blocks together:
//   [layer][K: kv_head][block][slot][key_row] [V: kv_head][block][slot][value_row]
// A sequence's blocks are mostly consecutive ids (a fresh pool hands them out in order), so one
// head's keys for consecutive positions are consecutive in memory across block boundaries too, and
// decode attention streams them. (Block-major storage, a block's runs side by side, made every
// run a separate 4 KiB island 384 KiB from the next block's: long-context decode read the cache at
// a third of the bandwidth.) bytes_per_block = block_size · KvShape::bytes_per_token() is what a
// block occupies in total.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kvik/kv_layout.h"
#include "kvik/status.h"
#include "util/large_pages.h"

namespace kvik::kv {

class BlockPool {
 public:
  static constexpr int32_t kNoBlock = -1;

  static Result<std::unique_ptr<BlockPool>> Create(const KvShape& shape, int64_t block_size,
                                                   int64_t n_blocks);

  int64_t n_blocks() const { return n_blocks_; }
  int64_t block_size() const { return block_size_; }
  uint64_t bytes_per_block() const { return bytes_per_block_; }
  uint64_t bytes_allocated() const { return bytes_per_block_ * n_blocks_; }
  uint8_t* data() { return storage_.get(); }
  const uint8_t* data() const { return storage_.get(); }
  // The first K (V) row of block `id`'s run of one (layer, kv_head).
  uint8_t* key_rows(int32_t id, int64_t layer, int64_t kv_head) {
    return storage_.get() + key_region(layer, kv_head) + id * key_run_bytes();
  }
  const uint8_t* key_rows(int32_t id, int64_t layer, int64_t kv_head) const {
    return storage_.get() + key_region(layer, kv_head) + id * key_run_bytes();
  }
  uint8_t* value_rows(int32_t id, int64_t layer, int64_t kv_head) {
    return storage_.get() + value_region(layer, kv_head) + id * value_run_bytes();
  }
  const uint8_t* value_rows(int32_t id, int64_t layer, int64_t kv_head) const {
    return storage_.get() + value_region(layer, kv_head) + id * value_run_bytes();
  }
  // Where the runs of one (layer, kv_head) start (block 0's), and how far apart blocks' runs are.
  uint64_t key_region(int64_t layer, int64_t kv_head) const;
  uint64_t value_region(int64_t layer, int64_t kv_head) const;
  uint64_t key_run_bytes() const { return block_size_ * shape_.key_row_bytes(); }
  uint64_t value_run_bytes() const { return block_size_ * shape_.value_row_bytes(); }

  // A block with refcount 1: from the free list, else the least recently cached block (its owner,
  // the prefix index, is told through `evicted`). kNoBlock when every block is owned.
  int32_t Allocate(int32_t* evicted);
  // One more owner. A cached block (refcount 0) leaves the LRU list.
  void Retain(int32_t id);
  // One owner fewer. At 0 the block becomes cached when `keep_cached` (it holds an indexed prefix),
  // else free.
  void Release(int32_t id, bool keep_cached);
  // Moves a cached block to the free list (the index forgot it).
  void Forget(int32_t id);

  int32_t refcount(int32_t id) const { return refcount_[id]; }
  int64_t n_free() const { return n_free_; }
  int64_t n_cached() const { return n_cached_; }
  int64_t n_used() const { return n_blocks_ - n_free_ - n_cached_; }
  uint64_t evictions() const { return evictions_; }

  // Each block is in exactly one state: free (on the free list), cached (refcount 0, on the LRU
  // list) or used (refcount > 0). Checks the lists against the counts; for tests.
  bool CheckInvariants() const;

 private:
  BlockPool() = default;
  void LruPushBack(int32_t id);
  void LruRemove(int32_t id);

  KvShape shape_;
  int64_t block_size_ = 0, n_blocks_ = 0;
  uint64_t bytes_per_block_ = 0;
  LargePageBuffer storage_{nullptr, std::free};
  std::vector<int32_t> refcount_;
  std::vector<int32_t> free_list_;     // a stack: the most recently freed block is reused first
  std::vector<uint8_t> on_free_list_;  // for CheckInvariants
  std::vector<int32_t> lru_prev_, lru_next_;  // intrusive doubly linked list of cached blocks
  int32_t lru_head_ = kNoBlock, lru_tail_ = kNoBlock;  // head = least recently cached
  int64_t n_free_ = 0, n_cached_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace kvik::kv
