// One sequence's view of the pool: logical block i (positions [i·block_size, (i+1)·block_size)) is
// physical block blocks[i]. Blocks that slid out of the attention window are kNoBlock.
#pragma once

#include <cstdint>
#include <vector>

namespace kvik::kv {

struct BlockTable {
  std::vector<int32_t> blocks;  // held blocks, including ones reserved beyond n_tokens()
  std::vector<int32_t> tokens;  // the tokens whose K/V are stored, in position order
  int64_t n_hashed_blocks = 0;  // leading full blocks already hashed (and offered to the index)
  uint64_t last_hash = 0;       // hash of block n_hashed_blocks − 1, or the index root
  bool indexable = true;        // false after a context shift: K/V no longer equal a fresh prefix

  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
};

}  // namespace kvik::kv
