#include "lsh/index_writer.h"

#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <tuple>

namespace kvik::lsh {
namespace {

class ChecksummedFile {
 public:
  ChecksummedFile(FILE* file, std::string path)
      : file_(file), path_(std::move(path)), state_(XXH64_createState()) {
    XXH64_reset(state_, 0);
  }
  ~ChecksummedFile() { XXH64_freeState(state_); }
  ChecksummedFile(const ChecksummedFile&) = delete;
  ChecksummedFile& operator=(const ChecksummedFile&) = delete;
  Status Write(const void* data, size_t bytes) {
    if (bytes == 0) return Status::Ok();
    XXH64_update(state_, data, bytes);
    if (std::fwrite(data, 1, bytes, file_) != bytes) {
      return IoError("index " + path_ + ": write failed: " + std::strerror(errno));
    }
    written_ += bytes;
    return Status::Ok();
  }
  Status PadTo8() {
    static constexpr char kZeros[8] = {};
    return Write(kZeros, format::AlignUp8(written_) - written_);
  }
  uint64_t digest() { return XXH64_digest(state_); }

 private:
  FILE* file_;
  std::string path_;
  XXH64_state_t* state_;
  uint64_t written_ = 0;
};

// Buckets are laid out in key order, entries following them: the file then depends only on the
// buckets' contents, not on the order the builder's shards produced them in (any memory budget,
// same bytes). Only a permutation is sorted, so no second copy of the buckets is made.
std::vector<uint32_t> KeyOrder(const IndexContents& contents) {
  std::vector<uint32_t> order(contents.bucket_keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return contents.bucket_keys[a] < contents.bucket_keys[b];
  });
  return order;
}

std::vector<format::BucketSlot> BuildSlots(const IndexContents& contents,
                                           const std::vector<uint32_t>& order) {
  // Load factor ≤ 0.7 keeps linear-probing chains short (expected ~2 probes on a hit).
  uint64_t slots = std::max<uint64_t>(16, contents.bucket_keys.size() * 10 / 7 + 1);
  std::vector<format::BucketSlot> table(slots, format::BucketSlot{0, 0, 0});
  uint32_t first_entry = 0;  // where the bucket's run starts in the file's entry section
  for (uint32_t b : order) {
    uint64_t key = contents.bucket_keys[b];
    uint64_t slot = format::HomeSlot(key, slots);
    while (table[slot].key != 0) slot = (slot + 1 == slots) ? 0 : slot + 1;
    table[slot] = {key, first_entry, contents.bucket_count[b]};
    first_entry += contents.bucket_count[b];
  }
  return table;
}

}  // namespace

Result<uint64_t> WriteIndex(const std::string& path, IndexContents& contents) {
  std::sort(contents.tokens.begin(), contents.tokens.end(),
            [](const auto& a, const auto& b) { return a.token_hash < b.token_hash; });
  std::sort(contents.typos.begin(), contents.typos.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key_hash, a.target_hash, a.position, a.letter) <
           std::tie(b.key_hash, b.target_hash, b.position, b.letter);
  });
  const std::vector<uint32_t> order = KeyOrder(contents);
  std::vector<format::BucketSlot> slots = BuildSlots(contents, order);

  format::FileHeader& h = contents.header;
  std::memcpy(h.magic, format::kMagic, sizeof h.magic);
  h.version = format::kVersion;
  h.header_bytes = sizeof(format::FileHeader);
  h.token_count = contents.tokens.size();
  h.typo_count = contents.typos.size();
  const uint64_t bucket_slots = slots.size();
  h.bucket_slots = bucket_slots;
  h.bucket_count = contents.bucket_keys.size();
  h.entry_count = contents.entries.size();
  h.cluster_count = contents.clusters.size();
  h.text_bytes = contents.text.size();
  h.file_bytes = sizeof(format::FileHeader) + h.token_count * sizeof(format::TokenEntry) +
                 h.typo_count * sizeof(format::TypoEntry) +
                 h.bucket_slots * sizeof(format::BucketSlot) +
                 format::AlignUp8(h.entry_count * sizeof(uint32_t)) +
                 h.cluster_count * sizeof(format::ClusterEntry) + h.text_bytes;

  const std::string temp_path = path + ".partial";
  FILE* file = std::fopen(temp_path.c_str(), "wb");
  if (file == nullptr) {
    return IoError("index " + temp_path + ": cannot create: " + std::strerror(errno));
  }
  // Payload first (after a placeholder header), so its checksum can go into the header.
  Status status;
  ChecksummedFile payload(file, temp_path);
  if (std::fseek(file, sizeof(format::FileHeader), SEEK_SET) != 0) status = IoError("seek");
  const auto write = [&](const void* data, size_t bytes) {
    if (status.ok()) status = payload.Write(data, bytes);
  };
  write(contents.tokens.data(), contents.tokens.size() * sizeof(format::TokenEntry));
  write(contents.typos.data(), contents.typos.size() * sizeof(format::TypoEntry));
  write(slots.data(), slots.size() * sizeof(format::BucketSlot));
  std::vector<format::BucketSlot>().swap(slots);  // release before streaming the entries
  std::vector<uint32_t> chunk;
  chunk.reserve(1 << 18);
  for (uint32_t b : order) {
    const uint32_t* first = contents.entries.data() + contents.bucket_first[b];
    chunk.insert(chunk.end(), first, first + contents.bucket_count[b]);
    if (chunk.size() >= (1 << 18) - 1024) {
      write(chunk.data(), chunk.size() * sizeof(uint32_t));
      chunk.clear();
    }
  }
  write(chunk.data(), chunk.size() * sizeof(uint32_t));
  if (status.ok()) status = payload.PadTo8();
  write(contents.clusters.data(), contents.clusters.size() * sizeof(format::ClusterEntry));
  write(contents.text.data(), contents.text.size());
  h.payload_checksum = payload.digest();
  h.header_checksum = 0;
  h.header_checksum = XXH64(&h, sizeof h, 0);
  if (status.ok() &&
      (std::fseek(file, 0, SEEK_SET) != 0 || std::fwrite(&h, sizeof h, 1, file) != 1)) {
    status = IoError("index " + temp_path + ": cannot write header");
  }
  if (std::fclose(file) != 0 && status.ok())
    status = IoError("index " + temp_path + ": close failed");
  if (status.ok() && std::rename(temp_path.c_str(), path.c_str()) != 0) {
    status = IoError("index " + path + ": cannot rename from " + temp_path + ": " +
                     std::strerror(errno));
  }
  if (!status.ok()) {
    std::remove(temp_path.c_str());
    return status;
  }
  return h.file_bytes;
}

}  // namespace kvik::lsh
