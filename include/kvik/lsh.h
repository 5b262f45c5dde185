// kvik semantic query cache: normalize → weighted MinHash → bucket index → vote tally.
// Near-duplicate queries ("nike running shoes", "Running shoe Nike") share one canonical query, so
// a result cache keyed by the canonical stores one entry where an exact-match cache stores many.
// See docs/semantic-cache.md for the design, the file format and measured numbers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvik/status.h"

namespace kvik::lsh {

// ---- Normalization ------------------------------------------------------------------------------

struct NormalizeOptions {
  bool stem_plurals = true;  // "shoes" → "shoe", "dresses" → "dress", "batteries" → "battery"
  bool drop_stop_words = false;  // drops a, an, the, for, of, with, and, in, on, to, by
};

// Lowercases (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic), turns punctuation and every
// Unicode space into one separator, drops apostrophes inside words ("men's" → "mens"), keeps "2.5"
// whole, then splits on separators and applies the options. Invalid UTF-8 bytes act as separators.
// Returns the tokens in query order (duplicates kept).
std::vector<std::string> Tokenize(std::string_view query, const NormalizeOptions& options = {});

// The tokens joined by single spaces: the query's normalized form.
std::string Normalize(std::string_view query, const NormalizeOptions& options = {});

// Light English plural stemmer used by Tokenize ("boxes" → "box", "glasses" → "glass").
std::string StemPlural(std::string_view token);

// 64-bit token identity used everywhere a token is hashed (XXH3 of its bytes).
uint64_t HashToken(std::string_view token);

// ---- Token weights ------------------------------------------------------------------------------

enum class TokenRole { kNone, kHead, kBrand, kModifier, kStop };

// What a role lexicon file says (TSV, '#' comments):
//   token <TAB> head|brand|modifier|stop          the token's role (multiplies its IDF weight)
//   token <TAB> synonym <TAB> target              the token is replaced by target before hashing
struct RoleLexicon {
  std::unordered_map<std::string, TokenRole> roles;
  std::unordered_map<std::string, std::string> synonyms;  // token → target (both normalized)
};
Result<RoleLexicon> LoadRoleLexicon(const std::string& path, const NormalizeOptions& options = {});

// Weight multiplier per role: brands weigh most so brand swaps stay apart; stop words weigh
// nothing.
struct RoleMultipliers {
  double head = 2.0, brand = 3.0, modifier = 0.5, none = 1.0;
};

// A weighted token as MinHash sees it: identity after synonym mapping, and a weight > 0.
struct WeightedToken {
  uint64_t hash;
  double weight;
};

// Spelling correction of one-edit typos (docs/semantic-cache.md, "Typos"). A log token is
// corrected into a target one Damerau edit away when that target is the only one within an edit
// and is at least min_ratio times as frequent; a target is a lowercase ASCII-letter token of 5+
// letters that occurs in at least min_target_df log queries, or any lexicon word. The index stores
// the targets, so an unseen token at lookup is corrected the same way (targets only, no ratio).
// Lexicon tokens are never corrected: a brand one letter from another brand stays itself.
struct TypoOptions {
  bool enabled = true;
  uint64_t min_target_df = 3;
  double min_ratio = 8;
};

// IDF weigher: weight(t) = ln(1 + N / df(t)) × role multiplier, where N is the number of log
// queries and df(t) the number of queries containing t. Unknown tokens get ln(1 + N) (df = 1 would
// be the rarest observed). Synonyms are folded before counting.
class Weigher {
 public:
  Weigher() = default;
  Weigher(RoleLexicon lexicon, RoleMultipliers multipliers = {});

  // Counting phase (build): call once per distinct log query with its tokens.
  void CountDocument(const std::vector<std::string>& tokens);
  // Before Finish: also compute typo corrections (off by default in a bare Weigher).
  void EnableTypoCorrection(TypoOptions options) { typo_ = options; }
  // Freezes the IDF table (and the typo corrections); Weigh works before this too (every token
  // is then "unknown").
  void Finish();

  // Deduplicated weighted tokens of a query (stop words and zero weights dropped).
  std::vector<WeightedToken> Weigh(const std::vector<std::string>& tokens) const;

  // The frozen table, for the index file: token hash (after synonyms) → weight.
  struct Entry {
    uint64_t token_hash;   // hash of the token as written in the query
    uint64_t mapped_hash;  // hash after synonym mapping (what MinHash sees)
    float weight;
  };
  std::vector<Entry> Table() const;
  double unknown_weight() const { return unknown_weight_; }
  uint64_t documents() const { return documents_; }
  // Log tokens corrected into a target (token → target), and the targets, for the index.
  const std::unordered_map<std::string, std::string>& corrections() const { return corrections_; }
  const std::vector<std::string>& typo_targets() const { return typo_targets_; }

 private:
  std::string Canonical(const std::string& token) const;
  bool IsLexiconToken(const std::string& token) const;
  void ComputeCorrections();
  double WeightOf(const std::string& canonical_token) const;
  double RawWeightOf(const std::string& canonical_token) const;

  RoleLexicon lexicon_;
  RoleMultipliers multipliers_;
  std::unordered_map<std::string, uint64_t> document_frequency_;
  std::unordered_map<std::string, double> weights_;  // filled by Finish
  TypoOptions typo_{.enabled = false};
  std::unordered_map<std::string, std::string> corrections_;  // filled by Finish
  std::vector<std::string> typo_targets_;                     // filled by Finish
  uint64_t documents_ = 0;
  double unknown_weight_ = 1.0;
};

// ---- Weighted MinHash ---------------------------------------------------------------------------

struct MinHashOptions {
  uint32_t num_hashes = 36;  // K: votes per query
  uint32_t rows = 2;         // samples per bucket key: P(collide) = J^rows (docs/semantic-cache.md)
  uint64_t seed = 0x6b76696b;
  bool weighted = true;  // false: plain MinHash over the token set (weights ignored)
};

// Consistent weighted sampling (Ioffe 2010, "Improved Consistent Sampling, Weighted Minhash and L1
// Sketching"): for every sample index j and token t, the randomness (r, c, β) comes from
// XXH3(hash(t), seed + j), so there is no per-vocabulary matrix and any token can appear. Two token
// multisets produce the same sample with probability = weighted Jaccard Σmin(w)/Σmax(w).
class MinHasher {
 public:
  explicit MinHasher(MinHashOptions options = {});
  const MinHashOptions& options() const { return options_; }

  // num_hashes × rows samples, each a 64-bit identity of (token, quantized weight level).
  std::vector<uint64_t> Samples(const std::vector<WeightedToken>& tokens) const;
  // num_hashes bucket keys: key i combines samples [i*rows, (i+1)*rows) with i.
  std::vector<uint64_t> BucketKeys(const std::vector<WeightedToken>& tokens) const;
  // Exact weighted (or plain) Jaccard of two weighted token sets, for tests and evaluation.
  static double Jaccard(const std::vector<WeightedToken>& a, const std::vector<WeightedToken>& b,
                        bool weighted);

 private:
  uint64_t Sample(const std::vector<WeightedToken>& tokens, const double* log_weights,
                  uint32_t j) const;
  MinHashOptions options_;
};

// ---- Index --------------------------------------------------------------------------------------

namespace format {
struct TokenEntry;  // src/lsh/index_format.h
}

struct LookupResult {
  uint32_t cluster_id;
  std::string_view canonical;  // the cluster's most frequent query, normalized (the cache key)
  uint32_t votes;
};

struct IndexInfo {
  uint32_t version, num_hashes, rows, bucket_capacity;
  uint64_t clusters, buckets, tokens, queries, file_bytes;
};

// A built index opened read-only with mmap. Immutable, so any number of threads may call Lookup.
class Index {
 public:
  // Validates magic, version, sizes and the xxh64 checksum; errors name the file and the field.
  static Result<std::shared_ptr<const Index>> Open(const std::string& path);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // K bucket probes and a vote tally; a hit needs at least min_votes (0 = the default 18 of 36
  // scaled to num_hashes / 2). Returns nullopt on a miss.
  std::optional<LookupResult> Lookup(std::string_view query, uint32_t min_votes = 0) const;
  // The best candidate whatever its votes (nullopt when no bucket matched): for threshold sweeps.
  std::optional<LookupResult> BestCandidate(std::string_view query) const;

  std::string_view Canonical(uint32_t cluster_id) const;
  uint64_t ClusterQueryCount(uint32_t cluster_id) const;
  IndexInfo info() const;
  const std::string& path() const { return path_; }

  struct Layout;  // pointers into the mapped sections (src/lsh/index.cpp)

 private:
  Index() = default;
  std::vector<uint64_t> BucketKeysFor(std::string_view query) const;
  const format::TokenEntry* FindToken(uint64_t hash) const;
  WeightedToken WeighUnknown(std::string_view token, uint64_t hash) const;

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<Layout> layout_;
  std::unique_ptr<MinHasher> hasher_;
  NormalizeOptions normalize_;
};

// Holds the live index; Swap publishes a new one atomically while lookups continue on the old one
// (readers keep it alive through their shared_ptr until they finish).
class IndexHolder {
 public:
  explicit IndexHolder(std::shared_ptr<const Index> index = nullptr) : index_(std::move(index)) {}
  std::shared_ptr<const Index> Get() const { return index_.load(std::memory_order_acquire); }
  void Swap(std::shared_ptr<const Index> index) {
    index_.store(std::move(index), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const Index>> index_;
};

// ---- Builder ------------------------------------------------------------------------------------

struct BuildOptions {
  std::string log_path;          // TSV: query <TAB> count
  std::string out_path;          // index file
  std::string lexicon_path;      // optional role lexicon
  std::string temp_dir;          // for edge/bucket shards; default: dirname(out_path)
  std::string members_path;      // optional: writes query <TAB> cluster id for every log query
  std::string corrections_path;  // optional: writes token <TAB> target for every typo corrected
  MinHashOptions minhash;
  NormalizeOptions normalize;
  uint32_t edge_votes = 22;        // prune edges with fewer shared buckets (docs: "Typos")
  uint32_t bucket_capacity = 8;    // B: canonical ids kept per bucket
  uint32_t max_pairs_bucket = 64;  // larger buckets only link members to their top members
  uint64_t memory_budget_bytes = 256ull << 20;  // for the sort buffers
  bool progress = false;                        // progress line on stderr
  TypoOptions typo;                             // spelling correction (on by default)
};

struct BuildStats {
  uint64_t lines = 0, queries = 0, bad_lines = 0, empty_queries = 0;
  uint64_t distinct_token_sets = 0;  // queries left after merging identical weighted token sets
  std::vector<std::string> bad_line_examples;  // "file:line: why", first few
  uint64_t bucket_records = 0, edge_records = 0, edges_kept = 0, clusters = 0;
  uint64_t typo_corrections = 0, typo_targets = 0;  // log tokens corrected; correction targets
  uint64_t temp_bytes = 0, index_bytes = 0;
  double seconds = 0;
};

Result<BuildStats> BuildIndex(const BuildOptions& options);

}  // namespace kvik::lsh
