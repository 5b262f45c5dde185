// The KvCache façade: sequences' block tables over the block pool, prefix reuse through the index,
// copy-on-write, and the sliding window.
#include "kvik/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <unordered_map>

#include "kv/block_pool.h"
#include "kv/block_table.h"
#include "kv/prefix_index.h"
#include "kvik/quantize.h"

namespace kvik {

using kv::BlockPool;
using kv::BlockTable;

int64_t KvCacheOptions::BlocksFor(int64_t context_tokens, int64_t n_sequences, int64_t block_size) {
  if (block_size <= 0) return 0;
  return (context_tokens + block_size - 1) / block_size * n_sequences;
}

int64_t KvCacheOptions::BlocksInBudget(const KvShape& shape, int64_t block_size,
                                       uint64_t budget_bytes) {
  const uint64_t per_block = shape.bytes_per_token() * static_cast<uint64_t>(block_size);
  return per_block == 0 ? 0 : static_cast<int64_t>(budget_bytes / per_block);
}

KvCache::KvCache(const KvCacheOptions& options) : options_(options) {}
KvCache::~KvCache() = default;

Result<std::unique_ptr<KvCache>> KvCache::Create(const KvCacheOptions& options) {
  if (options.sliding_window < 0) return InvalidArgument("KV cache: sliding window must be >= 0");
  std::unique_ptr<KvCache> cache(new KvCache(options));
  KVIK_ASSIGN_OR_RETURN(cache->pool_,
                        BlockPool::Create(options.shape, options.block_size, options.n_blocks));
  cache->index_ = std::make_unique<kv::PrefixIndex>(options.n_blocks, options.block_size,
                                                    options.shape.key_dtype,
                                                    options.shape.value_dtype);
  return cache;
}

uint64_t KvCache::bytes_allocated() const { return pool_->bytes_allocated(); }

BlockTable& KvCache::table(SequenceId seq) {
  assert(Contains(seq));
  return *sequences_[seq];
}
const BlockTable& KvCache::table(SequenceId seq) const {
  assert(Contains(seq));
  return *sequences_[seq];
}

bool KvCache::Contains(SequenceId seq) const {
  return seq >= 0 && seq < static_cast<SequenceId>(sequences_.size()) && sequences_[seq];
}
int64_t KvCache::n_tokens(SequenceId seq) const { return table(seq).n_tokens(); }
std::span<const int32_t> KvCache::tokens(SequenceId seq) const { return table(seq).tokens; }
int64_t KvCache::blocks_held(SequenceId seq) const {
  const auto& blocks = table(seq).blocks;
  return std::count_if(blocks.begin(), blocks.end(), [](int32_t b) { return b != BlockPool::kNoBlock; });
}
int64_t KvCache::blocks_available() const { return pool_->n_free() + pool_->n_cached(); }

int64_t KvCache::blocks_needed(SequenceId seq, int64_t extra) const {
  const BlockTable& t = table(seq);
  const int64_t bs = block_size();
  const int64_t end = t.n_tokens() + extra;
  const int64_t wanted = (end + bs - 1) / bs;
  int64_t needed = std::max<int64_t>(0, wanted - static_cast<int64_t>(t.blocks.size()));
  // Held blocks in the write range that are shared must be copied first.
  for (int64_t b = t.n_tokens() / bs; b < std::min<int64_t>(wanted, t.blocks.size()); ++b) {
    if (t.blocks[b] != BlockPool::kNoBlock && !IsPrivate(t.blocks[b])) ++needed;
  }
  return needed;
}

SequenceId KvCache::NewSequence(std::unique_ptr<BlockTable> t) {
  SequenceId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    sequences_[id] = std::move(t);
  } else {
    id = static_cast<SequenceId>(sequences_.size());
    sequences_.push_back(std::move(t));
  }
  return id;
}

SequenceId KvCache::AddSequence() {
  auto t = std::make_unique<BlockTable>();
  t->last_hash = index_->root();
  t->indexable = options_.prefix_sharing;
  return NewSequence(std::move(t));
}

void KvCache::RemoveSequence(SequenceId seq) {
  BlockTable& t = table(seq);
  // A finished sequence's partly filled last block is kept for partial prefix matches (copied
  // from, never shared): the next request with the same prompt then recomputes nothing of it.
  const int64_t bs = block_size();
  const int64_t last = t.n_tokens() / bs;
  if (t.indexable && t.n_tokens() % bs != 0 && t.n_hashed_blocks == last &&
      last < static_cast<int64_t>(t.blocks.size()) && t.blocks[last] != BlockPool::kNoBlock &&
      IsPrivate(t.blocks[last])) {
    const std::span<const int32_t> tokens(t.tokens.data() + last * bs, t.n_tokens() % bs);
    index_->Insert(t.blocks[last], kv::PrefixIndex::BlockHash(t.last_hash, tokens), t.last_hash,
                   tokens);
  }
  for (int32_t block : t.blocks) {
    if (block != BlockPool::kNoBlock) ReleaseBlock(block);
  }
  sequences_[seq].reset();
  free_ids_.push_back(seq);
}

Result<SequenceId> KvCache::Fork(SequenceId seq) {
  auto copy = std::make_unique<BlockTable>(table(seq));
  for (int32_t block : copy->blocks) {
    if (block != BlockPool::kNoBlock) pool_->Retain(block);
  }
  return NewSequence(std::move(copy));
}

Result<int32_t> KvCache::AllocateBlock() {
  int32_t evicted = BlockPool::kNoBlock;
  const int32_t block = pool_->Allocate(&evicted);
  if (evicted != BlockPool::kNoBlock) index_->Erase(evicted);
  if (block == BlockPool::kNoBlock) {
    return ResourceExhausted("KV cache full: all " + std::to_string(pool_->n_blocks()) +
                             " blocks of " + std::to_string(block_size()) + " tokens are in use");
  }
  return block;
}

// Indexed blocks are immutable (other sequences may match them later), like blocks with two owners.
bool KvCache::IsPrivate(int32_t block) const {
  return pool_->refcount(block) == 1 && !index_->Contains(block);
}

void KvCache::ReleaseBlock(int32_t block) { pool_->Release(block, index_->Contains(block)); }

void KvCache::CopyRows(int32_t from, int32_t to, int64_t n_rows) {
  const KvShape& shape = options_.shape;
  for (int64_t layer = 0; layer < shape.n_layers; ++layer) {
    for (int64_t head = 0; head < shape.n_kv_heads; ++head) {
      std::memcpy(pool_->key_rows(to, layer, head), pool_->key_rows(from, layer, head),
                  n_rows * shape.key_row_bytes());
      std::memcpy(pool_->value_rows(to, layer, head), pool_->value_rows(from, layer, head),
                  n_rows * shape.value_row_bytes());
    }
  }
}

Status KvCache::MakeWritable(BlockTable& t, int64_t from, int64_t to, bool unindex) {
  const int64_t bs = block_size();
  const int64_t last = std::min<int64_t>((to + bs - 1) / bs, t.blocks.size());
  for (int64_t b = from / bs; b < last; ++b) {
    const int32_t block = t.blocks[b];
    if (block == BlockPool::kNoBlock) continue;
    if (unindex && pool_->refcount(block) == 1) {
      index_->Erase(block);
    } else if (!IsPrivate(block)) {
      KVIK_ASSIGN_OR_RETURN(const int32_t copy, AllocateBlock());
      CopyRows(block, copy, std::clamp<int64_t>(t.n_tokens() - b * bs, 0, bs));
      ReleaseBlock(block);
      t.blocks[b] = copy;
      ++copy_on_write_;
    }
  }
  return Status::Ok();
}

Status KvCache::Reserve(SequenceId seq, int64_t n) {
  BlockTable& t = table(seq);
  const int64_t needed = blocks_needed(seq, n);
  if (needed > blocks_available()) {
    return ResourceExhausted("KV cache full: " + std::to_string(needed) + " more blocks of " +
                             std::to_string(block_size()) + " tokens needed, " +
                             std::to_string(blocks_available()) + " available");
  }
  KVIK_RETURN_IF_ERROR(MakeWritable(t, t.n_tokens(), t.n_tokens() + n, false));
  const int64_t wanted = (t.n_tokens() + n + block_size() - 1) / block_size();
  while (static_cast<int64_t>(t.blocks.size()) < wanted) {
    KVIK_ASSIGN_OR_RETURN(const int32_t block, AllocateBlock());
    t.blocks.push_back(block);
  }
  return Status::Ok();
}

void KvCache::Store(SequenceId seq, int64_t layer, int64_t position, const float* k,
                    const float* v) {
  const BlockTable& t = table(seq);
  const KvShape& shape = options_.shape;
  const int64_t bs = block_size();
  assert(position >= t.n_tokens() && position / bs < static_cast<int64_t>(t.blocks.size()));
  const int32_t block = t.blocks[position / bs];
  const int64_t slot = position % bs;
  for (int64_t h = 0; h < shape.n_kv_heads; ++h) {
    QuantizeRow(shape.key_dtype, k + h * shape.head_dim, shape.head_dim,
                pool_->key_rows(block, layer, h) + slot * shape.key_row_bytes());
    QuantizeRow(shape.value_dtype, v + h * shape.head_dim, shape.head_dim,
                pool_->value_rows(block, layer, h) + slot * shape.value_row_bytes());
  }
}

void KvCache::Commit(SequenceId seq, std::span<const int32_t> tokens) {
  BlockTable& t = table(seq);
  t.tokens.insert(t.tokens.end(), tokens.begin(), tokens.end());
  assert(static_cast<int64_t>(t.blocks.size()) * block_size() >= t.n_tokens());
  IndexFullBlocks(t);
  ReleaseOutsideWindow(t);
}

void KvCache::IndexFullBlocks(BlockTable& t) {
  const int64_t bs = block_size();
  while (t.indexable && (t.n_hashed_blocks + 1) * bs <= t.n_tokens()) {
    const int64_t b = t.n_hashed_blocks;
    const std::span<const int32_t> tokens(t.tokens.data() + b * bs, bs);
    const uint64_t hash = kv::PrefixIndex::BlockHash(t.last_hash, tokens);
    // A block computed twice (two requests racing on one prefix) stays unindexed the second time.
    if (t.blocks[b] != BlockPool::kNoBlock) index_->Insert(t.blocks[b], hash, t.last_hash, tokens);
    t.last_hash = hash;
    ++t.n_hashed_blocks;
  }
}

void KvCache::ReleaseOutsideWindow(BlockTable& t) {
  const int64_t window = options_.sliding_window;
  if (window <= 0) return;
  // The next token (position n) attends to [n − window + 1, n]; blocks wholly before that go.
  const int64_t first_visible = t.n_tokens() - window + 1;
  const int64_t bs = block_size();
  for (int64_t b = 0; (b + 1) * bs <= first_visible && b < static_cast<int64_t>(t.blocks.size()); ++b) {
    if (t.blocks[b] == BlockPool::kNoBlock) continue;
    ReleaseBlock(t.blocks[b]);
    t.blocks[b] = BlockPool::kNoBlock;
  }
}

void KvCache::Truncate(SequenceId seq, int64_t n) {
  BlockTable& t = table(seq);
  assert(n >= 0 && n <= t.n_tokens());
  t.tokens.resize(n);
  const int64_t bs = block_size();
  const size_t kept_blocks = (n + bs - 1) / bs;
  while (t.blocks.size() > kept_blocks) {
    if (t.blocks.back() != BlockPool::kNoBlock) ReleaseBlock(t.blocks.back());
    t.blocks.pop_back();
  }
  if (t.n_hashed_blocks > n / bs) {
    // Rewind the hash chain to the last block that is still full.
    t.n_hashed_blocks = n / bs;
    t.last_hash = index_->root();
    for (int64_t b = 0; b < t.n_hashed_blocks; ++b) {
      t.last_hash = kv::PrefixIndex::BlockHash(
          t.last_hash, std::span<const int32_t>(t.tokens.data() + b * bs, bs));
    }
  }
}

Result<int64_t> KvCache::MatchPrefix(SequenceId seq, std::span<const int32_t> tokens,
                                     int64_t max_tokens) {
  BlockTable& t = table(seq);
  if (t.n_tokens() != 0 || !t.blocks.empty()) {
    return InvalidArgument("KV cache: prefix matching needs an empty sequence");
  }
  const int64_t limit = std::min<int64_t>(max_tokens, tokens.size());
  prefix_lookup_tokens_ += std::max<int64_t>(limit, 0);
  if (!t.indexable || limit <= 0) return int64_t{0};
  const int64_t bs = block_size();
  int64_t n = 0;
  while (n + bs <= limit) {
    const std::span<const int32_t> block_tokens = tokens.subspan(n, bs);
    const uint64_t hash = kv::PrefixIndex::BlockHash(t.last_hash, block_tokens);
    const int32_t block = index_->Find(hash, t.last_hash, block_tokens);
    if (block == kv::PrefixIndex::kNoBlock) break;
    pool_->Retain(block);
    t.blocks.push_back(block);
    t.last_hash = hash;
    ++t.n_hashed_blocks;
    n += bs;
  }
  // The rest of the prefix may match the start of a cached block: copy those rows.
  int64_t matched = 0;
  const int32_t child =
      index_->LongestChild(t.last_hash, tokens.subspan(n, std::min(bs, limit - n)), &matched);
  if (matched > 0 && blocks_available() > 0) {
    pool_->Retain(child);  // so allocating the copy can't evict the source
    Result<int32_t> copy = AllocateBlock();
    if (copy.ok()) {
      CopyRows(child, *copy, matched);
      t.blocks.push_back(*copy);
      n += matched;
    }
    ReleaseBlock(child);
  }
  t.tokens.assign(tokens.begin(), tokens.begin() + n);
  prefix_hit_tokens_ += n;
  ReleaseOutsideWindow(t);
  return n;
}

KvHeadView KvCache::HeadView(SequenceId seq, int64_t layer, int64_t kv_head) const {
  const BlockTable& t = table(seq);
  const KvShape& shape = options_.shape;
  KvHeadView view;
  view.head_dim = shape.head_dim;
  view.sliding_window = options_.sliding_window;
  KvRun run;
  run.pool = pool_->data();
  run.blocks = t.blocks.data();
  run.block_size = block_size();
  view.keys = view.values = run;
  view.keys.region_offset = pool_->key_region(layer, kv_head);
  view.keys.block_stride = pool_->key_run_bytes();
  view.keys.row_bytes = shape.key_row_bytes();
  view.keys.dtype = shape.key_dtype;
  view.values.region_offset = pool_->value_region(layer, kv_head);
  view.values.block_stride = pool_->value_run_bytes();
  view.values.row_bytes = shape.value_row_bytes();
  view.values.dtype = shape.value_dtype;
  return view;
}

KvCacheStats KvCache::stats() const {
  KvCacheStats s;
  s.blocks_total = pool_->n_blocks();
  s.blocks_used = pool_->n_used();
  s.blocks_cached = pool_->n_cached();
  s.blocks_free = pool_->n_free();
  s.bytes_allocated = pool_->bytes_allocated();
  s.bytes_used = s.blocks_used * pool_->bytes_per_block();
  std::unordered_map<int32_t, int64_t> filled;  // physical block → token slots in use
  const int64_t bs = block_size();
  for (const auto& t : sequences_) {
    if (!t) continue;
    ++s.sequences;
    s.tokens_stored += t->n_tokens();
    for (int64_t b = 0; b < static_cast<int64_t>(t->blocks.size()); ++b) {
      if (t->blocks[b] == BlockPool::kNoBlock) continue;
      int64_t& slots = filled[t->blocks[b]];
      slots = std::max(slots, std::clamp<int64_t>(t->n_tokens() - b * bs, 0, bs));
    }
  }
  for (const auto& [block, slots] : filled) {
    s.bytes_holding_tokens += slots * options_.shape.bytes_per_token();
  }
  s.prefix_hit_tokens = prefix_hit_tokens_;
  s.prefix_lookup_tokens = prefix_lookup_tokens_;
  s.evictions = pool_->evictions();
  s.copy_on_write = copy_on_write_;
  return s;
}

std::vector<KvBlockInfo> KvCache::DescribeBlocks() const {
  std::vector<KvBlockInfo> blocks(pool_->n_blocks());
  for (int32_t b = 0; b < pool_->n_blocks(); ++b) {
    blocks[b].owners = pool_->refcount(b);
    blocks[b].state = blocks[b].owners > 0        ? KvBlockInfo::State::kUsed
                      : index_->Contains(b)       ? KvBlockInfo::State::kCached
                                                  : KvBlockInfo::State::kFree;
    if (blocks[b].state == KvBlockInfo::State::kCached) blocks[b].tokens = block_size();
  }
  const int64_t bs = block_size();
  for (SequenceId id = 0; id < static_cast<SequenceId>(sequences_.size()); ++id) {
    const BlockTable* t = sequences_[id].get();
    if (!t) continue;
    for (int64_t b = 0; b < static_cast<int64_t>(t->blocks.size()); ++b) {
      if (t->blocks[b] == BlockPool::kNoBlock) continue;
      KvBlockInfo& info = blocks[t->blocks[b]];
      if (info.first_owner < 0) info.first_owner = id;
      info.tokens = std::max<int32_t>(info.tokens, std::clamp<int64_t>(t->n_tokens() - b * bs, 0, bs));
    }
  }
  return blocks;
}

bool KvCache::CheckInvariants() const {
  if (!pool_->CheckInvariants()) return false;
  std::vector<int32_t> owners(pool_->n_blocks(), 0);
  for (const auto& t : sequences_) {
    if (!t) continue;
    for (int32_t block : t->blocks) {
      if (block != BlockPool::kNoBlock) ++owners[block];
    }
  }
  int64_t indexed_unowned = 0;
  for (int32_t b = 0; b < pool_->n_blocks(); ++b) {
    if (owners[b] != pool_->refcount(b)) return false;
    if (owners[b] == 0 && index_->Contains(b)) ++indexed_unowned;
  }
  // Cached blocks are exactly the unowned ones the index can still hand out; a cached block the
  // index forgot could never be reused, and an indexed free block would hand out garbage.
  return indexed_unowned == pool_->n_cached();
}

}  // namespace kvik
