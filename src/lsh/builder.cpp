// Offline cluster builder: log → bucket memberships → edge votes → union-find → index file.
// Memory holds the log's query texts and counts (needed for canonicals) and one shard at a time;
// bucket memberships and candidate edges live in temporary shard files (external sharding).
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "kvik/lsh.h"
#include "lsh/index_writer.h"
#include "lsh/log_reader.h"
#include "lsh/temp_records.h"
#include "lsh/typo.h"

namespace kvik::lsh {
namespace {

#pragma pack(push, 1)
struct BucketRecord {
  uint64_t key;
  uint32_t query;
};
#pragma pack(pop)
static_assert(sizeof(BucketRecord) == 12);

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

// The log's distinct lines, kept compactly: texts back to back plus offsets.
struct QueryTable {
  std::string text;
  std::vector<uint64_t> offsets{0};
  std::vector<uint64_t> counts;
  size_t size() const { return counts.size(); }
  std::string_view Text(size_t q) const {
    return std::string_view(text).substr(offsets[q], offsets[q + 1] - offsets[q]);
  }
};

class UnionFind {
 public:
  explicit UnionFind(size_t n) : parent_(n) {
    for (size_t i = 0; i < n; ++i) parent_[i] = static_cast<uint32_t>(i);
  }
  uint32_t Find(uint32_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];  // path halving
    return x;
  }
  // The smaller id becomes the root, so the result does not depend on edge order.
  void Union(uint32_t a, uint32_t b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<uint32_t> parent_;
};

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}
  void Update(const char* phase, uint64_t done, uint64_t total) {
    if (!enabled_ || (done % 65536 != 0 && done != total)) return;
    if (total > 0) {
      std::fprintf(stderr, "\rbuild: %-28s %5.1f%%", phase, 100.0 * done / total);
    } else {
      std::fprintf(stderr, "\rbuild: %-28s %llu", phase, static_cast<unsigned long long>(done));
    }
  }
  void Done() {
    if (enabled_) std::fprintf(stderr, "\r%60s\r", "");
  }

 private:
  bool enabled_;
};

uint32_t ShardsFor(uint64_t bytes, uint64_t budget) {
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(bytes / std::max<uint64_t>(budget, 1) + 1, 1, 256));
}

// How many passes a shard needs so that each pass's records fit the budget.
uint32_t PassesFor(uint64_t records, size_t record_bytes, uint64_t budget) {
  return static_cast<uint32_t>(records * record_bytes / std::max<uint64_t>(budget, 1) + 1);
}

class Builder {
 public:
  explicit Builder(const BuildOptions& options)
      : options_(options), hasher_(options.minhash), progress_(options.progress) {}

  Result<BuildStats> Run() {
    auto start = std::chrono::steady_clock::now();
    KVIK_RETURN_IF_ERROR(ValidateOptions());
    KVIK_RETURN_IF_ERROR(ReadLog());
    KVIK_RETURN_IF_ERROR(WriteCorrections());
    MergeIdenticalTokenSets();
    KVIK_RETURN_IF_ERROR(WriteBucketRecords());
    KVIK_RETURN_IF_ERROR(WriteEdgeRecords());
    KVIK_RETURN_IF_ERROR(JoinStrongEdges());
    AssignClusters();
    KVIK_RETURN_IF_ERROR(WriteMembers());
    KVIK_RETURN_IF_ERROR(FillBuckets());
    stats_.temp_bytes = (buckets_.records() * sizeof(BucketRecord)) + edge_bytes_;
    buckets_.Remove();
    // The index is complete in contents_; what built it is not needed while writing it.
    queries_ = QueryTable();
    union_find_.reset();
    std::vector<uint32_t>().swap(cluster_of_root_);
    std::vector<uint64_t>().swap(group_count_);
    KVIK_ASSIGN_OR_RETURN(stats_.index_bytes, WriteIndex(options_.out_path, contents_));
    stats_.clusters = contents_.clusters.size();
    progress_.Done();
    stats_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return stats_;
  }

 private:
  Status ValidateOptions() {
    const auto& m = options_.minhash;
    if (m.num_hashes == 0 || m.num_hashes > 1024) {
      return InvalidArgument("--k must be in 1..1024, got " + std::to_string(m.num_hashes));
    }
    if (m.rows == 0 || m.rows > 8) return InvalidArgument("--rows must be in 1..8");
    if (options_.edge_votes == 0 || options_.edge_votes > m.num_hashes) {
      return InvalidArgument("--votes must be in 1..k (" + std::to_string(m.num_hashes) +
                             "), got " + std::to_string(options_.edge_votes));
    }
    if (options_.bucket_capacity == 0 || options_.bucket_capacity > 1024) {
      return InvalidArgument("--bucket-capacity must be in 1..1024");
    }
    if (options_.out_path.empty()) return InvalidArgument("--out: an index path is required");
    temp_dir_ = options_.temp_dir;
    if (temp_dir_.empty()) {
      temp_dir_ = std::filesystem::path(options_.out_path).parent_path().string();
      if (temp_dir_.empty()) temp_dir_ = ".";
    }
    temp_stem_ = "kvik-lsh-build-" + std::to_string(getpid());
    if (!options_.lexicon_path.empty()) {
      KVIK_ASSIGN_OR_RETURN(auto lexicon,
                            LoadRoleLexicon(options_.lexicon_path, options_.normalize));
      weigher_ = Weigher(std::move(lexicon));
    }
    if (options_.typo.min_ratio < 1) return InvalidArgument("--typo-ratio must be at least 1");
    weigher_.EnableTypoCorrection(options_.typo);
    return Status::Ok();
  }

  // Pass 1: stream the TSV, keep query texts and counts, count document frequencies.
  Status ReadLog() {
    KVIK_ASSIGN_OR_RETURN(LogReader reader, LogReader::Open(options_.log_path));
    LogLine line;
    while (reader.Next(&line)) {
      auto tokens = Tokenize(line.query, options_.normalize);
      if (tokens.empty()) {
        ++stats_.empty_queries;
        continue;
      }
      if (queries_.size() >= UINT32_MAX - 1) return ResourceExhausted("more than 4G queries");
      weigher_.CountDocument(tokens);
      queries_.text.append(line.query);
      queries_.offsets.push_back(queries_.text.size());
      queries_.counts.push_back(line.count);
      progress_.Update("reading log (lines)", reader.lines(), 0);
    }
    KVIK_RETURN_IF_ERROR(reader.status());
    stats_.lines = reader.lines();
    stats_.bad_lines = reader.bad_lines();
    stats_.bad_line_examples = reader.bad_line_examples();
    stats_.queries = queries_.size();
    if (queries_.size() == 0) {
      return InvalidArgument("query log " + options_.log_path +
                             ": no usable 'query<TAB>count' lines (" +
                             std::to_string(stats_.bad_lines) + " malformed, " +
                             std::to_string(stats_.empty_queries) + " empty after normalization)");
    }
    weigher_.Finish();
    stats_.typo_corrections = weigher_.corrections().size();
    stats_.typo_targets = weigher_.typo_targets().size();
    return Status::Ok();
  }

  // Runs fn(q, weighted tokens of q) for every query q with selected(q), on two threads.
  template <typename Selected, typename Fn>
  void ForEachWeighted(const char* phase, Selected selected, Fn fn) {
    std::atomic<uint64_t> next_block{0};
    constexpr uint64_t kBlock = 4096;
    auto work = [&] {
      while (true) {
        uint64_t begin = next_block.fetch_add(kBlock);
        if (begin >= queries_.size()) return;
        uint64_t end = std::min<uint64_t>(begin + kBlock, queries_.size());
        for (uint64_t q = begin; q < end; ++q) {
          if (selected(q)) fn(q, weigher_.Weigh(Tokenize(queries_.Text(q), options_.normalize)));
        }
        progress_.Update(phase, end, queries_.size());
      }
    };
    std::thread helper(work);
    work();
    helper.join();
  }

  // Pass 2a: queries with the same weighted token set ("Nike Shoes", "shoe nike") have identical
  // signatures, so they always join. Merging them first hashes each set once and spares the edge
  // counting their K·g(g−1)/2 pair records. Sets are compared by a 64-bit hash of their sorted
  // token hashes (a false merge needs a 64-bit collision).
  void MergeIdenticalTokenSets() {
    union_find_ = std::make_unique<UnionFind>(queries_.size());
    std::vector<uint64_t> set_keys(queries_.size());
    ForEachWeighted(
        "grouping identical queries", [](uint64_t) { return true; },
        [&](uint64_t q, const std::vector<WeightedToken>& weighted) {
          std::vector<uint64_t> hashes;
          hashes.reserve(weighted.size());
          for (const auto& t : weighted) hashes.push_back(t.hash);
          std::sort(hashes.begin(), hashes.end());
          set_keys[q] = XXH3_64bits(hashes.data(), hashes.size() * sizeof(uint64_t));
        });
    std::vector<uint32_t> order(queries_.size());
    for (uint32_t q = 0; q < order.size(); ++q) order[q] = q;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return set_keys[a] != set_keys[b] ? set_keys[a] < set_keys[b] : a < b;
    });
    group_count_.assign(queries_.size(), 0);
    for (size_t i = 0; i < order.size();) {
      const uint32_t representative = order[i];  // the lowest id of the group
      size_t j = i;
      for (; j < order.size() && set_keys[order[j]] == set_keys[representative]; ++j) {
        union_find_->Union(representative, order[j]);
        group_count_[representative] += queries_.counts[order[j]];
      }
      ++stats_.distinct_token_sets;
      i = j;
    }
  }

  bool IsRepresentative(uint64_t q) const { return group_count_[q] > 0; }

  // Pass 2b: every distinct token set's K bucket keys, sharded by key. Hashing is the CPU-heavy
  // part, so it runs on two threads; records are sorted later, so their order does not matter.
  Status WriteBucketRecords() {
    const uint64_t total = stats_.distinct_token_sets * options_.minhash.num_hashes;
    KVIK_RETURN_IF_ERROR(
        buckets_.Create(temp_dir_, temp_stem_ + ".buckets",
                        ShardsFor(total * sizeof(BucketRecord), options_.memory_budget_bytes / 2)));
    std::mutex mutex;
    Status status;
    ForEachWeighted(
        "hashing queries", [&](uint64_t q) { return IsRepresentative(q); },
        [&](uint64_t q, const std::vector<WeightedToken>& weighted) {
          std::vector<uint64_t> keys = hasher_.BucketKeys(weighted);
          std::lock_guard lock(mutex);
          for (uint64_t key : keys) {
            BucketRecord record{key, static_cast<uint32_t>(q)};
            if (status.ok()) status = buckets_.Append(Mix(key) % buckets_.shards(), record);
          }
        });
    KVIK_RETURN_IF_ERROR(status);
    stats_.bucket_records = buckets_.records();
    return buckets_.FlushAll();
  }

  // Calls fn(key, members) for every bucket, reading each shard in as many passes as the memory
  // budget needs (records are split among passes by key, so a bucket never straddles two passes).
  template <typename Fn>
  Status ForEachBucket(Fn&& fn) {
    std::vector<BucketRecord> records;
    std::vector<uint32_t> members;
    for (uint32_t shard = 0; shard < buckets_.shards(); ++shard) {
      uint32_t passes = PassesFor(buckets_.records_in(shard), sizeof(BucketRecord),
                                  options_.memory_budget_bytes / 2);
      for (uint32_t pass = 0; pass < passes; ++pass) {
        records.clear();
        KVIK_RETURN_IF_ERROR(buckets_.ForEachChunk(shard, [&](const BucketRecord* r, size_t n) {
          for (size_t i = 0; i < n; ++i) {
            if ((Mix(r[i].key) / buckets_.shards()) % passes == pass) records.push_back(r[i]);
          }
        }));
        std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
          return a.key != b.key ? a.key < b.key : a.query < b.query;
        });
        for (size_t i = 0; i < records.size();) {
          size_t j = i;
          members.clear();
          while (j < records.size() && records[j].key == records[i].key)
            members.push_back(records[j++].query);
          fn(records[i].key, members);
          i = j;
        }
      }
    }
    return Status::Ok();
  }

  // Pass 3: each bucket votes once for each pair of its members. A bucket larger than
  // max_pairs_bucket (a head token shared by thousands of queries) would cost O(m²), so its members
  // only link to its most frequent few: that can lose votes (recall), never add wrong ones.
  Status WriteEdgeRecords() {
    const uint64_t estimate = stats_.bucket_records * 8 * sizeof(uint64_t);
    KVIK_RETURN_IF_ERROR(edges_.Create(temp_dir_, temp_stem_ + ".edges",
                                       ShardsFor(estimate, options_.memory_budget_bytes / 2)));
    Status status;
    const uint32_t heads = std::max<uint32_t>(1, options_.max_pairs_bucket / 8);
    auto emit = [&](uint32_t a, uint32_t b) {
      uint64_t pair = (uint64_t{std::min(a, b)} << 32) | std::max(a, b);
      if (status.ok()) status = edges_.Append(Mix(pair) % edges_.shards(), pair);
    };
    uint64_t buckets_seen = 0;
    KVIK_RETURN_IF_ERROR(ForEachBucket([&](uint64_t, std::vector<uint32_t>& members) {
      progress_.Update("counting bucket pairs", ++buckets_seen, 0);
      if (members.size() <= options_.max_pairs_bucket) {
        for (size_t i = 0; i < members.size(); ++i) {
          for (size_t j = i + 1; j < members.size(); ++j) emit(members[i], members[j]);
        }
        return;
      }
      std::partial_sort(
          members.begin(), members.begin() + heads, members.end(), [&](uint32_t a, uint32_t b) {
            return group_count_[a] != group_count_[b] ? group_count_[a] > group_count_[b] : a < b;
          });
      for (size_t i = 0; i < heads; ++i) {
        for (size_t j = i + 1; j < members.size(); ++j) emit(members[i], members[j]);
      }
    }));
    KVIK_RETURN_IF_ERROR(status);
    stats_.edge_records = edges_.records();
    edge_bytes_ = edges_.records() * sizeof(uint64_t);
    return edges_.FlushAll();
  }

  // Pass 4: count each pair's votes shard by shard; pairs with ≥ edge_votes shared buckets join.
  Status JoinStrongEdges() {
    std::vector<uint64_t> pairs;
    for (uint32_t shard = 0; shard < edges_.shards(); ++shard) {
      uint32_t passes =
          PassesFor(edges_.records_in(shard), sizeof(uint64_t), options_.memory_budget_bytes / 2);
      for (uint32_t pass = 0; pass < passes; ++pass) {
        pairs.clear();
        KVIK_RETURN_IF_ERROR(edges_.ForEachChunk(shard, [&](const uint64_t* p, size_t n) {
          for (size_t i = 0; i < n; ++i) {
            if ((Mix(p[i]) / edges_.shards()) % passes == pass) pairs.push_back(p[i]);
          }
        }));
        std::sort(pairs.begin(), pairs.end());
        for (size_t i = 0; i < pairs.size();) {
          size_t j = i;
          while (j < pairs.size() && pairs[j] == pairs[i]) ++j;
          if (j - i >= options_.edge_votes) {
            union_find_->Union(static_cast<uint32_t>(pairs[i] >> 32),
                               static_cast<uint32_t>(pairs[i]));
            ++stats_.edges_kept;
          }
          i = j;
        }
      }
      progress_.Update("joining edges (shards)", shard + 1, edges_.shards());
    }
    edges_.Remove();
    return Status::Ok();
  }

  // Pass 5: components → clusters; canonical = most frequent member; ids ordered by popularity.
  void AssignClusters() {
    const size_t n = queries_.size();
    std::vector<uint32_t> canonical_of_root(n, UINT32_MAX);
    std::vector<uint64_t> total(n, 0);
    std::vector<uint32_t> members(n, 0);
    for (uint32_t q = 0; q < n; ++q) {
      uint32_t root = union_find_->Find(q);
      uint32_t& best = canonical_of_root[root];
      if (best == UINT32_MAX || queries_.counts[q] > queries_.counts[best]) best = q;
      total[root] += queries_.counts[q];
      ++members[root];
    }
    std::vector<uint32_t> roots;
    for (uint32_t q = 0; q < n; ++q) {
      if (union_find_->Find(q) == q) roots.push_back(q);
    }
    std::sort(roots.begin(), roots.end(), [&](uint32_t a, uint32_t b) {
      return total[a] != total[b] ? total[a] > total[b] : a < b;
    });
    cluster_of_root_.assign(n, 0);
    for (uint32_t id = 0; id < roots.size(); ++id) {
      uint32_t root = roots[id];
      cluster_of_root_[root] = id;
      // Canonicals are stored normalized: they are the result-cache keys, so a client must be able
      // to reproduce them (and prefix-invalidate them) without knowing the log's casing.
      const std::string text =
          Normalize(queries_.Text(canonical_of_root[root]), options_.normalize);
      contents_.clusters.push_back(
          {contents_.text.size(), total[root], static_cast<uint32_t>(text.size()), members[root]});
      contents_.text.append(text);
    }
  }

  Status WriteCorrections() {
    if (options_.corrections_path.empty()) return Status::Ok();
    std::vector<std::pair<std::string, std::string>> sorted(weigher_.corrections().begin(),
                                                            weigher_.corrections().end());
    std::sort(sorted.begin(), sorted.end());
    FILE* out = std::fopen(options_.corrections_path.c_str(), "w");
    if (out == nullptr) {
      return IoError("corrections file " + options_.corrections_path + ": cannot create");
    }
    for (const auto& [token, target] : sorted)
      std::fprintf(out, "%s\t%s\n", token.c_str(), target.c_str());
    return std::fclose(out) == 0
               ? Status::Ok()
               : IoError("corrections file " + options_.corrections_path + ": write failed");
  }

  Status WriteMembers() {
    if (options_.members_path.empty()) return Status::Ok();
    FILE* out = std::fopen(options_.members_path.c_str(), "w");
    if (out == nullptr) return IoError("members file " + options_.members_path + ": cannot create");
    for (uint32_t q = 0; q < queries_.size(); ++q) {
      std::string_view text = queries_.Text(q);
      std::fprintf(out, "%.*s\t%u\n", static_cast<int>(text.size()), text.data(),
                   cluster_of_root_[union_find_->Find(q)]);
    }
    return std::fclose(out) == 0
               ? Status::Ok()
               : IoError("members file " + options_.members_path + ": write failed");
  }

  // Pass 6: every bucket keeps its B most popular clusters (by the members' summed counts).
  Status FillBuckets() {
    std::vector<std::pair<uint32_t, uint64_t>> tally;  // cluster, weight
    uint64_t buckets_seen = 0;
    KVIK_RETURN_IF_ERROR(ForEachBucket([&](uint64_t key, std::vector<uint32_t>& members) {
      progress_.Update("filling buckets", ++buckets_seen, 0);
      tally.clear();
      for (uint32_t q : members) {
        uint32_t cluster = cluster_of_root_[union_find_->Find(q)];
        auto it = std::find_if(tally.begin(), tally.end(),
                               [&](const auto& t) { return t.first == cluster; });
        if (it == tally.end()) {
          tally.push_back({cluster, group_count_[q]});
        } else {
          it->second += group_count_[q];
        }
      }
      std::sort(tally.begin(), tally.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      size_t keep = std::min<size_t>(tally.size(), options_.bucket_capacity);
      contents_.bucket_keys.push_back(key);
      contents_.bucket_first.push_back(static_cast<uint32_t>(contents_.entries.size()));
      contents_.bucket_count.push_back(static_cast<uint32_t>(keep));
      for (size_t i = 0; i < keep; ++i) contents_.entries.push_back(tally[i].first);
    }));
    if (contents_.entries.size() >= UINT32_MAX)
      return ResourceExhausted("index has more than 4G entries");

    auto& h = contents_.header;
    h.num_hashes = options_.minhash.num_hashes;
    h.rows = options_.minhash.rows;
    h.bucket_capacity = options_.bucket_capacity;
    h.flags = (options_.normalize.stem_plurals ? format::kStemPlurals : 0) |
              (options_.normalize.drop_stop_words ? format::kDropStopWords : 0) |
              (options_.minhash.weighted ? format::kWeighted : 0);
    h.seed = options_.minhash.seed;
    h.unknown_weight = weigher_.unknown_weight();
    h.queries = queries_.size();
    for (const auto& e : weigher_.Table()) {
      contents_.tokens.push_back({e.token_hash, e.mapped_hash, e.weight, 0});
    }
    for (const auto& target : weigher_.typo_targets()) typo::AddTarget(target, contents_.typos);
    return Status::Ok();
  }

  const BuildOptions& options_;
  MinHasher hasher_;
  Progress progress_;
  Weigher weigher_;
  std::string temp_dir_, temp_stem_;
  QueryTable queries_;
  ShardedRecordFiles<BucketRecord> buckets_;
  ShardedRecordFiles<uint64_t> edges_;
  uint64_t edge_bytes_ = 0;
  std::unique_ptr<UnionFind> union_find_;
  std::vector<uint64_t> group_count_;  // summed log counts of a token-set group, at its lowest id
  std::vector<uint32_t> cluster_of_root_;
  IndexContents contents_;
  BuildStats stats_;
};

}  // namespace

Result<BuildStats> BuildIndex(const BuildOptions& options) { return Builder(options).Run(); }

}  // namespace kvik::lsh
