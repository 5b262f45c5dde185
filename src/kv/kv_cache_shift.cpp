// Context shift (llama.cpp's --context-shift): when a sequence reaches the context limit, keep its
// first n_keep tokens, drop the next n_discard, and slide the rest down. Keys carry their position
// through RoPE, so every moved key is re-rotated by −n_discard; values are position-free and move
// as bytes.
#include <algorithm>
#include <vector>

#include "kv/block_pool.h"
#include "kv/block_table.h"
#include "kv/prefix_index.h"
#include "kvik/kv_cache.h"
#include "kvik/quantize.h"

namespace kvik {

Status KvCache::Shift(SequenceId seq, int64_t n_keep, int64_t n_discard, RotateKeys rotate_keys,
                      const void* rotate_context) {
  kv::BlockTable& t = table(seq);
  const int64_t n = t.n_tokens();
  if (n_keep < 0 || n_discard <= 0 || n_keep + n_discard > n) {
    return InvalidArgument("KV cache: shift keeps " + std::to_string(n_keep) + " and drops " +
                           std::to_string(n_discard) + " of " + std::to_string(n) + " tokens");
  }
  if (options_.sliding_window > 0) {
    return Unimplemented("KV cache: context shift with a sliding window (it never fills)");
  }
  // Blocks from n_keep on are rewritten: each must be private and out of the index first.
  KVIK_RETURN_IF_ERROR(MakeWritable(t, n_keep, n, /*unindex=*/true));
  t.indexable = false;

  const KvShape& shape = options_.shape;
  const int64_t bs = block_size();
  std::vector<float> key(shape.head_dim);
  for (int64_t from = n_keep + n_discard; from < n; ++from) {
    const int64_t to = from - n_discard;
    const int32_t src = t.blocks[from / bs], dst = t.blocks[to / bs];
    const uint64_t src_slot = from % bs, dst_slot = to % bs;
    for (int64_t layer = 0; layer < shape.n_layers; ++layer) {
      for (int64_t head = 0; head < shape.n_kv_heads; ++head) {
        DequantizeRow(shape.key_dtype,
                      pool_->key_rows(src, layer, head) + src_slot * shape.key_row_bytes(),
                      shape.head_dim, key.data());
        rotate_keys(key.data(), 1, shape.head_dim, -n_discard, rotate_context);
        QuantizeRow(shape.key_dtype, key.data(), shape.head_dim,
                    pool_->key_rows(dst, layer, head) + dst_slot * shape.key_row_bytes());
        std::copy_n(pool_->value_rows(src, layer, head) + src_slot * shape.value_row_bytes(),
                    shape.value_row_bytes(),
                    pool_->value_rows(dst, layer, head) + dst_slot * shape.value_row_bytes());
      }
    }
  }
  t.tokens.erase(t.tokens.begin() + n_keep, t.tokens.begin() + n_keep + n_discard);
  const size_t kept_blocks = (t.n_tokens() + bs - 1) / bs;
  while (t.blocks.size() > kept_blocks) {
    ReleaseBlock(t.blocks.back());
    t.blocks.pop_back();
  }
  t.n_hashed_blocks = std::min<int64_t>(t.n_hashed_blocks, n_keep / bs);
  return Status::Ok();
}

}  // namespace kvik
