// The KV cache: a paged pool of token blocks shared by every sequence (PagedAttention, Kwon et al.
// 2023), with prefix sharing across requests, block-wise quantised K/V, a sliding window and context
// shift. The model writes K/V through Reserve/Store/Commit and attention reads through HeadView; no
// other module sees blocks.
//
// Memory: one allocation of n_blocks · block_size · KvShape::bytes_per_token() bytes, made once. A
// dense cache is the special case block_size = context, one block per sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kvik/kv_layout.h"
#include "kvik/status.h"

namespace kvik {

namespace kv {
class BlockPool;
class PrefixIndex;
struct BlockTable;
}  // namespace kv

using SequenceId = int32_t;

struct KvCacheOptions {
  KvShape shape;
  int64_t block_size = 16;      // tokens per block
  int64_t n_blocks = 0;         // pool size; see BlocksFor()
  int64_t sliding_window = 0;   // > 0: a token attends to the last `sliding_window` positions only
  bool prefix_sharing = true;   // index full blocks and reuse them across sequences

  // Blocks that hold `context_tokens` for each of `n_sequences` sequences (rounded up per sequence).
  static int64_t BlocksFor(int64_t context_tokens, int64_t n_sequences, int64_t block_size);
  // Blocks that fit in `budget_bytes`.
  static int64_t BlocksInBudget(const KvShape& shape, int64_t block_size, uint64_t budget_bytes);
};

struct KvCacheStats {
  int64_t blocks_total = 0;
  int64_t blocks_used = 0;     // owned by at least one sequence
  int64_t blocks_cached = 0;   // owned by none, still indexed: reusable until evicted
  int64_t blocks_free = 0;
  uint64_t bytes_allocated = 0;   // the pool
  uint64_t bytes_used = 0;        // blocks_used · bytes_per_block
  uint64_t bytes_holding_tokens = 0;  // token slots filled in used blocks (distinct, shared counted once)
  int64_t tokens_stored = 0;      // sum over sequences of their length (shared blocks count per owner)
  int64_t sequences = 0;
  uint64_t prefix_hit_tokens = 0;  // tokens taken from cached blocks instead of being computed
  uint64_t prefix_lookup_tokens = 0;  // tokens offered to MatchPrefix
  uint64_t evictions = 0;          // cached blocks reused for new data
  uint64_t copy_on_write = 0;      // shared blocks copied before an append
};

// One physical block as the KV-cache page draws it.
struct KvBlockInfo {
  enum class State : uint8_t { kFree, kCached, kUsed } state = State::kFree;
  int32_t owners = 0;         // sequences holding it (> 1: a shared prefix)
  SequenceId first_owner = -1;  // lowest sequence id holding it, -1 when none
  int32_t tokens = 0;         // filled token slots
};

// Where one sequence's rows of one (layer, kv_head) live: position p is row p % block_size of
// physical block blocks[p / block_size].
struct KvRun {
  const uint8_t* pool = nullptr;  // start of the pool
  const int32_t* blocks = nullptr;
  uint64_t region_offset = 0;     // where this (layer, head, K|V)'s runs start in the pool
  uint64_t block_stride = 0;      // bytes from one block's run to the next block's
  uint64_t row_bytes = 0;
  int64_t block_size = 0;
  DType dtype = DType::kF32;

  const uint8_t* block_rows(int64_t logical_block) const {
    return pool + region_offset + blocks[logical_block] * block_stride;
  }
  const uint8_t* row(int64_t position) const {
    return block_rows(position / block_size) + (position % block_size) * row_bytes;
  }
};

struct KvHeadView {
  KvRun keys, values;
  int64_t head_dim = 0;
  int64_t sliding_window = 0;  // 0: unlimited
  // First position a query at `position` may attend to.
  int64_t first_visible(int64_t position) const {
    return sliding_window > 0 && position >= sliding_window ? position - sliding_window + 1 : 0;
  }
};

class KvCache {
 public:
  static Result<std::unique_ptr<KvCache>> Create(const KvCacheOptions& options);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvShape& shape() const { return options_.shape; }
  const KvCacheOptions& options() const { return options_; }
  int64_t block_size() const { return options_.block_size; }
  uint64_t bytes_allocated() const;
  KvCacheStats stats() const;
  // Every physical block's state, in pool order.
  std::vector<KvBlockInfo> DescribeBlocks() const;

  // --- sequences ---
  SequenceId AddSequence();
  // Ends a sequence: its blocks go back to the pool (indexed ones stay cached for reuse).
  void RemoveSequence(SequenceId seq);
  // A new sequence sharing all of `seq`'s blocks (copy-on-write when either appends to a shared,
  // partly filled block); for parallel sampling and beam-like use.
  Result<SequenceId> Fork(SequenceId seq);
  bool Contains(SequenceId seq) const;
  int64_t n_tokens(SequenceId seq) const;
  std::span<const int32_t> tokens(SequenceId seq) const;
  // Blocks the sequence holds (incl. reserved ones), and those it needs for `extra` more tokens.
  int64_t blocks_held(SequenceId seq) const;
  int64_t blocks_needed(SequenceId seq, int64_t extra) const;
  int64_t blocks_available() const;  // free + cached (evictable)

  // Gives an empty sequence the longest cached prefix of `tokens`, at most `max_tokens` of them:
  // whole indexed blocks by reference, then the best matching part of one more block by copy.
  // Returns the number of tokens now in the cache; the caller computes only the rest.
  Result<int64_t> MatchPrefix(SequenceId seq, std::span<const int32_t> tokens, int64_t max_tokens);

  // Drops every token from position `n` on (n ≤ n_tokens): a prompt cache that only partly matches
  // a new prompt, or rejected speculative tokens.
  void Truncate(SequenceId seq, int64_t n);

  // --- writing (the model) ---
  // Makes room for `n` more tokens: allocates blocks, evicting cached ones LRU-first, and copies a
  // shared last block before it is written. ResourceExhausted when the pool can't hold them.
  Status Reserve(SequenceId seq, int64_t n);
  // Stores one token's K and V for one layer (n_kv_heads · head_dim floats each, head-major),
  // converting to the KV types. `position` must be reserved and not yet committed.
  void Store(SequenceId seq, int64_t layer, int64_t position, const float* k, const float* v);
  // The tokens whose K/V are now stored in every layer: they become part of the sequence, full
  // blocks are indexed for sharing, and blocks outside the sliding window are released.
  void Commit(SequenceId seq, std::span<const int32_t> tokens);

  // --- reading (attention) ---
  KvHeadView HeadView(SequenceId seq, int64_t layer, int64_t kv_head) const;

  // --- context full ---
  // Keeps the first `n_keep` tokens, drops the next `n_discard`, and moves the rest down by
  // n_discard positions. `rotate_keys(row, n_heads, delta)` must re-rotate n_kv_heads key vectors
  // of head_dim floats by `delta` positions (RoPE composes: R(p − d) = R(−d)·R(p)). The sequence
  // is no longer a pure prefix, so its blocks leave the prefix index.
  using RotateKeys = void (*)(float* keys, int64_t n_heads, int64_t head_dim, int64_t delta,
                              const void* context);
  Status Shift(SequenceId seq, int64_t n_keep, int64_t n_discard, RotateKeys rotate_keys,
               const void* rotate_context);

  // --- persistence (prompt cache) ---
  // Writes the sequence's tokens and K/V rows; `fingerprint` identifies the model and is checked
  // on load.
  Status Save(SequenceId seq, const std::string& path, uint64_t fingerprint) const;
  // A new sequence holding the saved tokens and K/V.
  Result<SequenceId> Load(const std::string& path, uint64_t fingerprint);

  // Every block free, cached or owned, refcounts equal to owners; for tests.
  bool CheckInvariants() const;

 private:
  explicit KvCache(const KvCacheOptions& options);
  kv::BlockTable& table(SequenceId seq);
  const kv::BlockTable& table(SequenceId seq) const;
  SequenceId NewSequence(std::unique_ptr<kv::BlockTable> table);
  Result<int32_t> AllocateBlock();
  // Replaces each block covering positions [from, to) that another sequence (or the prefix index)
  // also sees with a private copy, so it can be written; with `unindex`, a block only the index
  // shares is taken out of the index instead of copied.
  Status MakeWritable(kv::BlockTable& t, int64_t from, int64_t to, bool unindex);
  void CopyRows(int32_t from, int32_t to, int64_t n_rows);
  void ReleaseBlock(int32_t block);
  bool IsPrivate(int32_t block) const;
  void IndexFullBlocks(kv::BlockTable& t);
  void ReleaseOutsideWindow(kv::BlockTable& t);

  KvCacheOptions options_;
  std::unique_ptr<kv::BlockPool> pool_;
  std::unique_ptr<kv::PrefixIndex> index_;
  std::vector<std::unique_ptr<kv::BlockTable>> sequences_;  // by id; null once removed
  std::vector<SequenceId> free_ids_;
  uint64_t prefix_hit_tokens_ = 0, prefix_lookup_tokens_ = 0, copy_on_write_ = 0;
};

}  // namespace kvik
