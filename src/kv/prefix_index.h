// hash(parent block, its tokens) → physical block, for prefix sharing across requests (the chained
// block hash of vLLM's automatic prefix caching; SGLang's radix tree answers the same question).
// Only full blocks are indexed: their K/V can never change again, so any sequence whose first
// k·block_size tokens equal theirs may read them instead of recomputing. A block's identity also
// covers everything before it (through the parent hash), because its K/V depend on the whole prefix.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvik/dtype.h"

namespace kvik::kv {

class PrefixIndex {
 public:
  static constexpr int32_t kNoBlock = -1;

  PrefixIndex(int64_t n_blocks, int64_t block_size, DType key_dtype, DType value_dtype);

  // The parent hash of a sequence's first block. Differs per KV type and block size, so blocks
  // written with another layout never match.
  uint64_t root() const { return root_; }
  // XXH3-64 of the block's tokens, seeded with the parent hash.
  static uint64_t BlockHash(uint64_t parent, std::span<const int32_t> tokens);

  // The block indexed under `hash` whose parent and tokens also equal these (a 64-bit collision
  // can't alias two prefixes), or kNoBlock.
  int32_t Find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const;
  // Indexes a block holding `tokens` (a full block, or the partial last block of a finished
  // sequence — only LongestChild sees those); false (nothing changes) when `hash` is indexed.
  bool Insert(int32_t block, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens);
  void Erase(int32_t block);
  bool Contains(int32_t block) const { return indexed_[block] != 0; }
  uint64_t hash_of(int32_t block) const { return hash_[block]; }
  int64_t size() const { return static_cast<int64_t>(by_hash_.size()); }

  // Among the indexed children of `parent`, the one whose tokens share the longest prefix with
  // `next` (ties: the first indexed). Sets *matched to that length (0 and kNoBlock when none).
  int32_t LongestChild(uint64_t parent, std::span<const int32_t> next, int64_t* matched) const;

 private:
  std::span<const int32_t> tokens_of(int32_t block) const {
    return {tokens_.data() + block * block_size_, static_cast<size_t>(filled_[block])};
  }

  int64_t block_size_;
  uint64_t root_;
  std::unordered_map<uint64_t, int32_t> by_hash_;
  std::unordered_map<uint64_t, std::vector<int32_t>> children_;  // parent hash → indexed blocks
  std::vector<uint64_t> hash_, parent_;                           // per block
  std::vector<uint8_t> indexed_;
  std::vector<int32_t> filled_;                                  // tokens per indexed block
  std::vector<int32_t> tokens_;                                   // (n_blocks, block_size)
};

}  // namespace kvik::kv
