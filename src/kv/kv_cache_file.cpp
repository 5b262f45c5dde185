// Saving and restoring one sequence's cache (llama.cpp's --prompt-cache): a prompt computed once is
// reloaded later instead of recomputed.
//
// File: "KVIKKV01", u64 model fingerprint, i64 n_layers, n_kv_heads, head_dim, u32 key dtype,
// u32 value dtype, i64 n_tokens, i32 tokens[n_tokens], then for each layer, K then V, each KV head,
// each position: the stored row bytes; last an XXH3-64 of everything before it. Little-endian.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <xxhash.h>

#include "kv/block_pool.h"
#include "kv/block_table.h"
#include "kvik/kv_cache.h"

namespace kvik {
namespace {

constexpr char kMagic[8] = {'K', 'V', 'I', 'K', 'K', 'V', '0', '1'};

struct FileHeader {
  char magic[8];
  uint64_t fingerprint;
  int64_t n_layers, n_kv_heads, head_dim;
  uint32_t key_dtype, value_dtype;
  int64_t n_tokens;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Writes bytes and folds them into the running checksum.
class HashingWriter {
 public:
  explicit HashingWriter(std::FILE* f) : file_(f), state_(XXH3_createState()) {
    XXH3_64bits_reset(state_);
  }
  ~HashingWriter() { XXH3_freeState(state_); }
  bool Write(const void* data, size_t n) {
    XXH3_64bits_update(state_, data, n);
    return std::fwrite(data, 1, n, file_) == n;
  }
  uint64_t digest() const { return XXH3_64bits_digest(state_); }

 private:
  std::FILE* file_;
  XXH3_state_t* state_;
};

}  // namespace

Status KvCache::Save(SequenceId seq, const std::string& path, uint64_t fingerprint) const {
  if (!Contains(seq)) return InvalidArgument("KV save: no such sequence");
  const kv::BlockTable& t = table(seq);
  const int64_t bs = block_size();
  for (int64_t b = 0; b * bs < t.n_tokens(); ++b) {
    if (t.blocks[b] == kv::BlockPool::kNoBlock) {
      return Unimplemented("KV save: part of the sequence slid out of the attention window");
    }
  }
  const std::string temp = path + ".tmp";
  File f(std::fopen(temp.c_str(), "wb"));
  if (!f) return IoError("cannot write " + temp + ": " + std::strerror(errno));
  const KvShape& shape = options_.shape;
  FileHeader header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.fingerprint = fingerprint;
  header.n_layers = shape.n_layers;
  header.n_kv_heads = shape.n_kv_heads;
  header.head_dim = shape.head_dim;
  header.key_dtype = static_cast<uint32_t>(shape.key_dtype);
  header.value_dtype = static_cast<uint32_t>(shape.value_dtype);
  header.n_tokens = t.n_tokens();
  HashingWriter out(f.get());
  bool ok = out.Write(&header, sizeof header) &&
            out.Write(t.tokens.data(), t.tokens.size() * sizeof(int32_t));
  for (int64_t layer = 0; ok && layer < shape.n_layers; ++layer) {
    for (int kv = 0; ok && kv < 2; ++kv) {
      for (int64_t head = 0; ok && head < shape.n_kv_heads; ++head) {
        const KvHeadView view = HeadView(seq, layer, head);
        const KvRun& run = kv == 0 ? view.keys : view.values;
        for (int64_t p = 0; ok && p < t.n_tokens(); ++p) ok = out.Write(run.row(p), run.row_bytes);
      }
    }
  }
  const uint64_t digest = out.digest();
  ok = ok && std::fwrite(&digest, sizeof digest, 1, f.get()) == 1;
  ok = std::fclose(f.release()) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return IoError("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<SequenceId> KvCache::Load(const std::string& path, uint64_t fingerprint) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return IoError("cannot open " + path + ": " + std::strerror(errno));
  std::fseek(f.get(), 0, SEEK_END);
  const long size = std::ftell(f.get());
  std::fseek(f.get(), 0, SEEK_SET);
  FileHeader header{};
  if (size < static_cast<long>(sizeof header + 8) ||
      std::fread(&header, sizeof header, 1, f.get()) != 1 ||
      std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) {
    return Corrupt(path + ": not a kvik KV cache file");
  }
  const KvShape& shape = options_.shape;
  if (header.fingerprint != fingerprint) {
    return InvalidArgument(path + ": saved with a different model");
  }
  if (header.n_layers != shape.n_layers || header.n_kv_heads != shape.n_kv_heads ||
      header.head_dim != shape.head_dim ||
      header.key_dtype != static_cast<uint32_t>(shape.key_dtype) ||
      header.value_dtype != static_cast<uint32_t>(shape.value_dtype)) {
    return InvalidArgument(path + ": saved with another KV layout or type (layers " +
                           std::to_string(header.n_layers) + ", KV heads " +
                           std::to_string(header.n_kv_heads) + ", head size " +
                           std::to_string(header.head_dim) + ")");
  }
  const uint64_t row_bytes_per_token = shape.bytes_per_token();
  if (header.n_tokens <= 0 || static_cast<uint64_t>(header.n_tokens) >
                                  static_cast<uint64_t>(size) / (row_bytes_per_token + 4)) {
    return Corrupt(path + ": token count " + std::to_string(header.n_tokens) +
                   " does not fit the file");
  }
  const uint64_t expected = sizeof header + header.n_tokens * (4 + row_bytes_per_token) + 8;
  if (static_cast<uint64_t>(size) != expected) {
    return Corrupt(path + ": " + std::to_string(size) + " bytes, expected " +
                   std::to_string(expected));
  }
  std::vector<uint8_t> body(expected - 8);
  uint64_t digest = 0;
  std::fseek(f.get(), 0, SEEK_SET);
  if (std::fread(body.data(), 1, body.size(), f.get()) != body.size() ||
      std::fread(&digest, sizeof digest, 1, f.get()) != 1) {
    return IoError("cannot read " + path);
  }
  if (XXH3_64bits(body.data(), body.size()) != digest) return Corrupt(path + ": checksum mismatch");

  std::vector<int32_t> tokens(header.n_tokens);
  std::memcpy(tokens.data(), body.data() + sizeof header, tokens.size() * sizeof(int32_t));
  const SequenceId seq = AddSequence();
  if (Status s = Reserve(seq, header.n_tokens); !s.ok()) {
    RemoveSequence(seq);
    return s;
  }
  const kv::BlockTable& t = table(seq);
  const uint8_t* in = body.data() + sizeof header + tokens.size() * sizeof(int32_t);
  const int64_t bs = block_size();
  for (int64_t layer = 0; layer < shape.n_layers; ++layer) {
    for (int kv = 0; kv < 2; ++kv) {
      for (int64_t head = 0; head < shape.n_kv_heads; ++head) {
        const uint64_t row = kv == 0 ? shape.key_row_bytes() : shape.value_row_bytes();
        for (int64_t p = 0; p < header.n_tokens; ++p, in += row) {
          const int32_t block = t.blocks[p / bs];
          uint8_t* rows = kv == 0 ? pool_->key_rows(block, layer, head)
                                  : pool_->value_rows(block, layer, head);
          std::memcpy(rows + (p % bs) * row, in, row);
        }
      }
    }
  }
  Commit(seq, tokens);
  return seq;
}

}  // namespace kvik
