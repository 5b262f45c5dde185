// On-disk layout of a kvik LSH index (*.kvlsh). Little-endian, every section 8-byte aligned, so
// the file is used in place through mmap: no parsing, no per-entry allocation.
//
//   FileHeader                     160 bytes
//   TokenEntry[token_count]        sorted by token_hash (binary search at lookup)
//   TypoEntry[typo_count]          sorted by key_hash: spelling-correction targets (version 2)
//   BucketSlot[bucket_slots]       open addressing, linear probing, key 0 = empty
//   uint32 entries[entry_count]    cluster ids; each bucket's run, most popular cluster first
//   ClusterEntry[cluster_count]    cluster id = index, by total query count, descending
//   char text[text_bytes]          canonical queries, normalized (they are the cache keys)
//
// payload_checksum = XXH64(bytes after the header, seed 0); header_checksum = XXH64(header with
// header_checksum = 0). Version changes whenever any of this changes. Version 1 files (no typo
// section; typo_count was reserved and zero) are still read.
#pragma once

#include <cstdint>

namespace kvik::lsh::format {

inline constexpr char kMagic[8] = {'K', 'V', 'I', 'K', 'L', 'S', 'H', '\0'};
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kOldestVersion = 1;

// FileHeader::flags bits.
inline constexpr uint32_t kStemPlurals = 1u << 0;
inline constexpr uint32_t kDropStopWords = 1u << 1;
inline constexpr uint32_t kWeighted = 1u << 2;

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint32_t num_hashes;
  uint32_t rows;
  uint32_t bucket_capacity;
  uint32_t flags;
  uint64_t seed;
  double unknown_weight;
  uint64_t queries;  // log queries the clusters were built from
  uint64_t token_count;
  uint64_t bucket_slots;
  uint64_t bucket_count;  // occupied slots
  uint64_t entry_count;
  uint64_t cluster_count;
  uint64_t text_bytes;
  uint64_t file_bytes;
  uint64_t payload_checksum;
  uint64_t header_checksum;
  uint64_t typo_count;   // version 2; zero (reserved) in version 1
  uint8_t reserved[24];  // zero; room for later fields without moving sections
};
static_assert(sizeof(FileHeader) == 160);

struct TokenEntry {
  uint64_t token_hash;
  uint64_t mapped_hash;  // after synonym folding
  float weight;          // 0 = drop (stop word)
  uint32_t reserved;
};
static_assert(sizeof(TokenEntry) == 24);

// A spelling-correction target ("running") is stored under its own hash (position = kWholeWord)
// and under the hash of each of its one-letter deletions ("rnning", position 1, letter 'u'), so a
// lookup can find the target of an unseen one-edit typo (src/lsh/typo.h).
struct TypoEntry {
  uint64_t key_hash;     // HashToken(target) or HashToken(target without one letter)
  uint64_t target_hash;  // HashToken(target): its TokenEntry gives the mapped hash and weight
  uint32_t position;     // where the deleted letter was (start of its run), or UINT32_MAX
  uint32_t letter;       // the deleted letter | (length of its run of equal letters << 8); 0 for
                         // the whole word
};
static_assert(sizeof(TypoEntry) == 24);

struct BucketSlot {
  uint64_t key;          // MinHash bucket key, never 0
  uint32_t first_entry;  // index into entries
  uint32_t count;        // ≤ bucket_capacity
};
static_assert(sizeof(BucketSlot) == 16);

struct ClusterEntry {
  uint64_t text_offset;
  uint64_t query_count;  // sum of the members' log counts
  uint32_t text_bytes;
  uint32_t members;
};
static_assert(sizeof(ClusterEntry) == 24);

inline uint64_t AlignUp8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// First slot probed for a key: "fastrange" maps the key's high bits onto [0, slots).
inline uint64_t HomeSlot(uint64_t key, uint64_t slots) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(key) * slots) >> 64);
}

}  // namespace kvik::lsh::format
