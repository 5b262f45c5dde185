// Index: opens a built *.kvlsh file with mmap after validating it, and answers lookups from it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kvik/lsh.h"
#include "lsh/index_format.h"
#include "lsh/typo.h"

namespace kvik::lsh {

struct Index::Layout {
  const format::FileHeader* header;
  const format::TokenEntry* tokens;
  const format::TypoEntry* typos;
  const format::BucketSlot* slots;
  const uint32_t* entries;
  const format::ClusterEntry* clusters;
  const char* text;
};

namespace {

Status CheckLayout(const std::string& path, const format::FileHeader& h, uint64_t actual_size) {
  const auto corrupt = [&](const std::string& what) {
    return Corrupt("index " + path + ": " + what);
  };
  if (h.version < format::kOldestVersion || h.version > format::kVersion) {
    return Unimplemented("index " + path + ": format version " + std::to_string(h.version) +
                         ", this kvik reads version " + std::to_string(format::kVersion));
  }
  format::FileHeader copy = h;
  copy.header_checksum = 0;
  if (XXH64(&copy, sizeof copy, 0) != h.header_checksum) return corrupt("header checksum mismatch");
  if (h.header_bytes != sizeof(format::FileHeader)) return corrupt("header_bytes is not 160");
  if (h.file_bytes != actual_size) {
    return corrupt("file is " + std::to_string(actual_size) + " bytes, header says " +
                   std::to_string(h.file_bytes) + " (truncated or appended to?)");
  }
  if (h.num_hashes == 0 || h.num_hashes > 1024 || h.rows == 0 || h.rows > 8) {
    return corrupt("num_hashes/rows out of range");
  }
  // Each count is bounded by the file size before multiplying, so the sum cannot overflow.
  const uint64_t limit = actual_size;
  if (h.version < 2 && h.typo_count != 0) return corrupt("version 1 header with a typo section");
  if (h.token_count > limit || h.typo_count > limit || h.bucket_slots > limit ||
      h.entry_count > limit || h.cluster_count > limit || h.text_bytes > limit ||
      h.bucket_count > h.bucket_slots) {
    return corrupt("section sizes exceed the file");
  }
  uint64_t expected = sizeof(format::FileHeader) + h.token_count * sizeof(format::TokenEntry) +
                      h.typo_count * sizeof(format::TypoEntry) +
                      h.bucket_slots * sizeof(format::BucketSlot) +
                      format::AlignUp8(h.entry_count * sizeof(uint32_t)) +
                      h.cluster_count * sizeof(format::ClusterEntry) + h.text_bytes;
  if (expected != actual_size) return corrupt("section sizes do not add up to the file size");
  if (h.bucket_slots == 0 || h.bucket_count == h.bucket_slots)
    return corrupt("bucket table is full");
  return Status::Ok();
}

// Every reference inside the file is checked once at open, so Lookup can trust them.
Status CheckReferences(const std::string& path, const format::FileHeader& h,
                       const Index::Layout& l) {
  const auto corrupt = [&](const std::string& what) {
    return Corrupt("index " + path + ": " + what);
  };
  uint64_t occupied = 0;
  for (uint64_t s = 0; s < h.bucket_slots; ++s) {
    const auto& slot = l.slots[s];
    if (slot.key == 0) continue;
    ++occupied;
    if (slot.count > h.bucket_capacity || uint64_t{slot.first_entry} + slot.count > h.entry_count) {
      return corrupt("bucket slot " + std::to_string(s) + " points outside the entry table");
    }
  }
  if (occupied != h.bucket_count) return corrupt("occupied bucket slots differ from bucket_count");
  for (uint64_t e = 0; e < h.entry_count; ++e) {
    if (l.entries[e] >= h.cluster_count)
      return corrupt("entry " + std::to_string(e) + " names no cluster");
  }
  for (uint64_t c = 0; c < h.cluster_count; ++c) {
    if (l.clusters[c].text_offset + l.clusters[c].text_bytes > h.text_bytes) {
      return corrupt("cluster " + std::to_string(c) + " text lies outside the text section");
    }
  }
  for (uint64_t t = 1; t < h.token_count; ++t) {
    if (l.tokens[t - 1].token_hash >= l.tokens[t].token_hash)
      return corrupt("token table is not sorted");
  }
  const auto* tokens_end = l.tokens + h.token_count;
  for (uint64_t t = 0; t < h.typo_count; ++t) {
    if (t > 0 && l.typos[t - 1].key_hash > l.typos[t].key_hash)
      return corrupt("typo table is not sorted");
    const uint64_t target = l.typos[t].target_hash;
    const auto* it = std::lower_bound(l.tokens, tokens_end, target,
                                      [](const auto& e, uint64_t v) { return e.token_hash < v; });
    if (it == tokens_end || it->token_hash != target)
      return corrupt("typo entry " + std::to_string(t) + " names no token");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const Index>> Index::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("index " + path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return IoError("index " + path + ": cannot stat: " + std::strerror(errno));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(format::FileHeader)) {
    ::close(fd);
    return Corrupt("index " + path + ": " + std::to_string(size) +
                   " bytes is shorter than the 160-byte header (truncated?)");
  }
  // MAP_POPULATE: fault the whole index in now rather than on the first lookups.
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return IoError("index " + path + ": mmap failed: " + std::strerror(errno));

  std::shared_ptr<Index> index(new Index());
  index->path_ = path;
  index->data_ = static_cast<const uint8_t*>(map);
  index->size_ = size;
  const auto* header = reinterpret_cast<const format::FileHeader*>(index->data_);
  if (std::memcmp(header->magic, format::kMagic, sizeof format::kMagic) != 0) {
    return Corrupt("index " + path + ": bad magic (expected 'KVIKLSH'; not a kvik LSH index)");
  }
  KVIK_RETURN_IF_ERROR(CheckLayout(path, *header, size));
  if (XXH64(index->data_ + sizeof(format::FileHeader), size - sizeof(format::FileHeader), 0) !=
      header->payload_checksum) {
    return Corrupt("index " + path + ": payload checksum mismatch (file damaged)");
  }
  auto layout = std::make_unique<Layout>();
  const uint8_t* cursor = index->data_ + sizeof(format::FileHeader);
  layout->header = header;
  layout->tokens = reinterpret_cast<const format::TokenEntry*>(cursor);
  cursor += header->token_count * sizeof(format::TokenEntry);
  layout->typos = reinterpret_cast<const format::TypoEntry*>(cursor);
  cursor += header->typo_count * sizeof(format::TypoEntry);
  layout->slots = reinterpret_cast<const format::BucketSlot*>(cursor);
  cursor += header->bucket_slots * sizeof(format::BucketSlot);
  layout->entries = reinterpret_cast<const uint32_t*>(cursor);
  cursor += format::AlignUp8(header->entry_count * sizeof(uint32_t));
  layout->clusters = reinterpret_cast<const format::ClusterEntry*>(cursor);
  cursor += header->cluster_count * sizeof(format::ClusterEntry);
  layout->text = reinterpret_cast<const char*>(cursor);
  KVIK_RETURN_IF_ERROR(CheckReferences(path, *header, *layout));

  index->layout_ = std::move(layout);
  index->hasher_ = std::make_unique<MinHasher>(MinHashOptions{
      header->num_hashes, header->rows, header->seed, (header->flags & format::kWeighted) != 0});
  index->normalize_.stem_plurals = (header->flags & format::kStemPlurals) != 0;
  index->normalize_.drop_stop_words = (header->flags & format::kDropStopWords) != 0;
  return std::shared_ptr<const Index>(std::move(index));
}

Index::~Index() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

const format::TokenEntry* Index::FindToken(uint64_t hash) const {
  const auto* end = layout_->tokens + layout_->header->token_count;
  const auto* it =
      std::lower_bound(layout_->tokens, end, hash,
                       [](const format::TokenEntry& e, uint64_t v) { return e.token_hash < v; });
  return it != end && it->token_hash == hash ? it : nullptr;
}

// An unseen token one edit from exactly one correction target takes the target's identity and
// weight; otherwise it is a new word with the rarest weight.
WeightedToken Index::WeighUnknown(std::string_view token, uint64_t hash) const {
  const auto& h = *layout_->header;
  if (h.typo_count > 0) {
    const auto* begin = layout_->typos;
    const auto* end = begin + h.typo_count;
    auto lookup = [&](uint64_t key) {
      auto range = std::equal_range(begin, end, format::TypoEntry{key, 0, 0, 0},
                                    [](const format::TypoEntry& a, const format::TypoEntry& b) {
                                      return a.key_hash < b.key_hash;
                                    });
      return typo::EntryRange{range.first, range.second};
    };
    if (auto target = typo::UniqueTarget(token, lookup)) {
      if (const auto* entry = FindToken(*target)) return {entry->mapped_hash, entry->weight};
    }
  }
  return {hash, h.unknown_weight};
}

std::vector<uint64_t> Index::BucketKeysFor(std::string_view query) const {
  std::vector<WeightedToken> weighted;
  for (const auto& token : Tokenize(query, normalize_)) {
    uint64_t hash = HashToken(token);
    const auto* entry = FindToken(hash);
    WeightedToken wt =
        entry ? WeightedToken{entry->mapped_hash, entry->weight} : WeighUnknown(token, hash);
    if (wt.weight <= 0) continue;
    bool duplicate = false;
    for (const auto& w : weighted) duplicate |= w.hash == wt.hash;
    if (!duplicate) weighted.push_back(wt);
  }
  if (weighted.empty()) return {};
  return hasher_->BucketKeys(weighted);
}

namespace {

// Per-thread vote table: open addressing keyed by cluster id, "cleared" by bumping a stamp, so a
// lookup costs O(K × B) whatever the number of candidates (a flat scan would be quadratic).
class VoteTally {
 public:
  void Reset(size_t max_candidates) {
    size_t want = 16;
    while (want < 2 * max_candidates) want <<= 1;
    if (slots_.size() < want || ++stamp_ == 0) {
      slots_.assign(std::max(want, slots_.size()), Slot{0, 0, 0});
      stamp_ = 1;
    }
    mask_ = slots_.size() - 1;
    best_cluster_ = UINT32_MAX;
    best_votes_ = 0;
  }
  void Vote(uint32_t cluster) {
    size_t i = (cluster * 0x9E3779B97F4A7C15ull >> 32) & mask_;
    while (slots_[i].stamp == stamp_ && slots_[i].cluster != cluster) i = (i + 1) & mask_;
    Slot& slot = slots_[i];
    if (slot.stamp != stamp_) slot = Slot{stamp_, cluster, 0};
    ++slot.votes;
    // Most votes wins; ties go to the lower id, i.e. the more popular cluster.
    if (slot.votes > best_votes_ || (slot.votes == best_votes_ && cluster < best_cluster_)) {
      best_votes_ = slot.votes;
      best_cluster_ = cluster;
    }
  }
  uint32_t best_cluster() const { return best_cluster_; }
  uint32_t best_votes() const { return best_votes_; }

 private:
  struct Slot {
    uint32_t stamp, cluster, votes;
  };
  std::vector<Slot> slots_;
  uint32_t stamp_ = 0;
  size_t mask_ = 0;
  uint32_t best_cluster_ = UINT32_MAX, best_votes_ = 0;
};

}  // namespace

std::optional<LookupResult> Index::BestCandidate(std::string_view query) const {
  const auto& h = *layout_->header;
  thread_local VoteTally tally;
  tally.Reset(size_t{h.num_hashes} * h.bucket_capacity);
  // The K probes hit random cache lines; issuing all prefetches first overlaps their misses.
  const std::vector<uint64_t> keys = BucketKeysFor(query);
  for (uint64_t key : keys)
    __builtin_prefetch(&layout_->slots[format::HomeSlot(key, h.bucket_slots)]);
  const format::BucketSlot* found[1024];
  size_t found_count = 0;
  for (uint64_t key : keys) {
    uint64_t slot = format::HomeSlot(key, h.bucket_slots);
    while (layout_->slots[slot].key != 0 && layout_->slots[slot].key != key) {
      slot = (slot + 1 == h.bucket_slots) ? 0 : slot + 1;
    }
    if (layout_->slots[slot].key == 0) continue;
    found[found_count++] = &layout_->slots[slot];
    __builtin_prefetch(&layout_->entries[layout_->slots[slot].first_entry]);
  }
  for (size_t b = 0; b < found_count; ++b) {
    for (uint32_t e = 0; e < found[b]->count; ++e)
      tally.Vote(layout_->entries[found[b]->first_entry + e]);
  }
  if (tally.best_votes() == 0) return std::nullopt;
  return LookupResult{tally.best_cluster(), Canonical(tally.best_cluster()), tally.best_votes()};
}

std::optional<LookupResult> Index::Lookup(std::string_view query, uint32_t min_votes) const {
  if (min_votes == 0) min_votes = (layout_->header->num_hashes + 1) / 2;
  auto best = BestCandidate(query);
  if (!best || best->votes < min_votes) return std::nullopt;
  return best;
}

std::string_view Index::Canonical(uint32_t cluster_id) const {
  if (cluster_id >= layout_->header->cluster_count) return {};
  const auto& c = layout_->clusters[cluster_id];
  return std::string_view(layout_->text + c.text_offset, c.text_bytes);
}

uint64_t Index::ClusterQueryCount(uint32_t cluster_id) const {
  return cluster_id < layout_->header->cluster_count ? layout_->clusters[cluster_id].query_count
                                                     : 0;
}

IndexInfo Index::info() const {
  const auto& h = *layout_->header;
  return {h.version,      h.num_hashes,  h.rows,    h.bucket_capacity, h.cluster_count,
          h.bucket_count, h.token_count, h.queries, h.file_bytes};
}

}  // namespace kvik::lsh
