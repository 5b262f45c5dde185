// Fixed-size records spilled to temporary shard files, so the builder's memory does not grow with
// the number of bucket memberships or candidate edges (external sharding, then sort per shard).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kvik/status.h"

namespace kvik::lsh {

template <typename Record>
class ShardedRecordFiles {
 public:
  ShardedRecordFiles() = default;
  ShardedRecordFiles(const ShardedRecordFiles&) = delete;
  ShardedRecordFiles& operator=(const ShardedRecordFiles&) = delete;
  ~ShardedRecordFiles() { Remove(); }

  Status Create(const std::string& directory, const std::string& stem, uint32_t shards) {
    for (uint32_t s = 0; s < shards; ++s) {
      std::string path = directory + "/" + stem + "." + std::to_string(s) + ".tmp";
      FILE* file = std::fopen(path.c_str(), "w+b");
      if (file == nullptr) {
        return IoError("temp file " + path + ": cannot create: " + std::strerror(errno));
      }
      paths_.push_back(path);
      files_.push_back(file);
      buffers_.emplace_back();
      buffers_.back().reserve(kBufferRecords);
      counts_.push_back(0);
    }
    return Status::Ok();
  }

  uint32_t shards() const { return static_cast<uint32_t>(files_.size()); }
  uint64_t records() const {
    uint64_t total = 0;
    for (auto c : counts_) total += c;
    return total;
  }
  uint64_t records_in(uint32_t shard) const { return counts_[shard]; }

  Status Append(uint32_t shard, const Record& record) {
    auto& buffer = buffers_[shard];
    buffer.push_back(record);
    ++counts_[shard];
    if (buffer.size() == kBufferRecords) return Flush(shard);
    return Status::Ok();
  }

  Status FlushAll() {
    for (uint32_t s = 0; s < shards(); ++s) KVIK_RETURN_IF_ERROR(Flush(s));
    return Status::Ok();
  }

  // Streams one shard (after FlushAll) in chunks: fn(const Record*, size_t count).
  template <typename Fn>
  Status ForEachChunk(uint32_t shard, Fn&& fn) {
    FILE* file = files_[shard];
    if (std::fseek(file, 0, SEEK_SET) != 0) return IoError("temp file " + paths_[shard] + ": seek");
    std::vector<Record> chunk(1 << 16);
    uint64_t left = counts_[shard];
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      if (std::fread(chunk.data(), sizeof(Record), want, file) != want) {
        return IoError("temp file " + paths_[shard] + ": short read");
      }
      fn(chunk.data(), want);
      left -= want;
    }
    return Status::Ok();
  }

  // Reads one whole shard (after FlushAll) into memory.
  Status ReadShard(uint32_t shard, std::vector<Record>* out) {
    out->resize(counts_[shard]);
    FILE* file = files_[shard];
    if (std::fseek(file, 0, SEEK_SET) != 0 ||
        std::fread(out->data(), sizeof(Record), out->size(), file) != out->size()) {
      return IoError("temp file " + paths_[shard] + ": short read of " +
                     std::to_string(out->size()) + " records");
    }
    return Status::Ok();
  }

  void Remove() {
    for (size_t s = 0; s < files_.size(); ++s) {
      std::fclose(files_[s]);
      std::remove(paths_[s].c_str());
    }
    files_.clear();
    paths_.clear();
    buffers_.clear();
    counts_.clear();
  }

 private:
  static constexpr size_t kBufferRecords = 8192;

  Status Flush(uint32_t shard) {
    auto& buffer = buffers_[shard];
    if (buffer.empty()) return Status::Ok();
    if (std::fwrite(buffer.data(), sizeof(Record), buffer.size(), files_[shard]) != buffer.size()) {
      return IoError("temp file " + paths_[shard] + ": write failed (disk full?)");
    }
    buffer.clear();
    return Status::Ok();
  }

  std::vector<std::string> paths_;
  std::vector<FILE*> files_;
  std::vector<std::vector<Record>> buffers_;
  std::vector<uint64_t> counts_;
};

}  // namespace kvik::lsh
