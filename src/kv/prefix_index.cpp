#include "kv/prefix_index.h"

#include <algorithm>
#include <cstring>

#include <xxhash.h>

namespace kvik::kv {

PrefixIndex::PrefixIndex(int64_t n_blocks, int64_t block_size, DType key_dtype, DType value_dtype)
    : block_size_(block_size),
      hash_(n_blocks, 0),
      parent_(n_blocks, 0),
      indexed_(n_blocks, 0),
      filled_(n_blocks, 0),
      tokens_(n_blocks * block_size, 0) {
  const uint64_t layout[3] = {static_cast<uint64_t>(key_dtype), static_cast<uint64_t>(value_dtype),
                              static_cast<uint64_t>(block_size)};
  root_ = XXH3_64bits(layout, sizeof layout);
}

uint64_t PrefixIndex::BlockHash(uint64_t parent, std::span<const int32_t> tokens) {
  return XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), parent);
}

int32_t PrefixIndex::Find(uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const {
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return kNoBlock;
  const int32_t block = it->second;
  if (parent_[block] != parent || filled_[block] != static_cast<int32_t>(tokens.size()) ||
      !std::equal(tokens.begin(), tokens.end(), tokens_of(block).begin())) {
    return kNoBlock;
  }
  return block;
}

bool PrefixIndex::Insert(int32_t block, uint64_t hash, uint64_t parent,
                         std::span<const int32_t> tokens) {
  if (indexed_[block] || !by_hash_.emplace(hash, block).second) return false;
  indexed_[block] = 1;
  hash_[block] = hash;
  parent_[block] = parent;
  filled_[block] = static_cast<int32_t>(tokens.size());
  std::memcpy(tokens_.data() + block * block_size_, tokens.data(), tokens.size_bytes());
  children_[parent].push_back(block);
  return true;
}

void PrefixIndex::Erase(int32_t block) {
  if (!indexed_[block]) return;
  indexed_[block] = 0;
  by_hash_.erase(hash_[block]);
  auto it = children_.find(parent_[block]);
  auto& siblings = it->second;
  siblings.erase(std::find(siblings.begin(), siblings.end(), block));
  if (siblings.empty()) children_.erase(it);
}

int32_t PrefixIndex::LongestChild(uint64_t parent, std::span<const int32_t> next,
                                  int64_t* matched) const {
  *matched = 0;
  int32_t best = kNoBlock;
  const auto it = children_.find(parent);
  if (it == children_.end()) return best;
  for (int32_t block : it->second) {
    const std::span<const int32_t> tokens = tokens_of(block);
    const int64_t limit = std::min(tokens.size(), next.size());
    int64_t n = 0;
    while (n < limit && tokens[n] == next[n]) ++n;
    if (n > *matched) {
      *matched = n;
      best = block;
    }
  }
  return best;
}

}  // namespace kvik::kv
