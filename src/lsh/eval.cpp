// Offline evaluation: replay a held-out log through an unbounded cache under three keying schemes
// (raw string, normalized string, semantic canonical) and sweep --min-votes.
#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "kvik/lsh.h"
#include "kvik/lsh_eval.h"
#include "lsh/log_reader.h"

namespace kvik::lsh {
namespace {

constexpr uint32_t kNoTruth = UINT32_MAX;

struct HeldOutQuery {
  uint64_t count;
  uint32_t truth;  // true cluster of the query
  uint32_t raw_key, normalized_key;
  uint32_t candidate;  // index's best cluster, or UINT32_MAX
  uint32_t votes;
  bool candidate_correct;  // truth of the candidate's canonical == truth
  bool head;
};

Result<std::unordered_map<std::string, uint32_t>> LoadTruth(const std::string& path) {
  // The truth file has the log's shape: query <TAB> cluster id (0 allowed).
  KVIK_ASSIGN_OR_RETURN(LogReader reader, LogReader::Open(path, /*allow_zero=*/true));
  std::unordered_map<std::string, uint32_t> truth;
  LogLine line;
  while (reader.Next(&line)) {
    if (line.count >= kNoTruth) return OutOfRange("truth " + path + ": cluster id over 2^32-2");
    truth.emplace(std::string(line.query), static_cast<uint32_t>(line.count));
  }
  KVIK_RETURN_IF_ERROR(reader.status());
  if (reader.bad_lines() > 0) {
    return InvalidArgument("truth " + path + ": " + std::to_string(reader.bad_lines()) +
                           " malformed line(s), first: " + reader.bad_line_examples()[0]);
  }
  return truth;
}

// One replay: key_of(q) gives the cache key (distinct keys never collide across schemes' spaces).
template <typename KeyOf, typename IsSemantic>
EvalRow Replay(const std::vector<HeldOutQuery>& queries, const std::vector<uint32_t>& order,
               KeyOf key_of, IsSemantic is_semantic) {
  EvalRow row;
  std::unordered_set<uint64_t> cached;
  cached.reserve(queries.size());
  uint64_t head_requests = 0;
  for (uint32_t q : order) {
    const auto& query = queries[q];
    head_requests += query.head;
    if (!cached.insert(key_of(query)).second) {
      ++row.hits;
      (query.head ? row.head_hits : row.tail_hits)++;
      row.correct_hits += is_semantic(query) ? query.candidate_correct : 1;
    }
  }
  row.entries = cached.size();
  double requests = static_cast<double>(order.size());
  row.hit_rate = row.hits / requests;
  row.head_hit_rate = head_requests ? row.head_hits / static_cast<double>(head_requests) : 0;
  row.tail_hit_rate = requests > head_requests ? row.tail_hits / (requests - head_requests) : 0;
  row.precision = row.hits ? static_cast<double>(row.correct_hits) / row.hits : 1.0;
  return row;
}

}  // namespace

Result<EvalReport> Evaluate(const EvalOptions& options) {
  KVIK_ASSIGN_OR_RETURN(auto index, Index::Open(options.index_path));
  KVIK_ASSIGN_OR_RETURN(auto truth, LoadTruth(options.truth_path));
  KVIK_ASSIGN_OR_RETURN(LogReader reader, LogReader::Open(options.log_path));
  if (options.sweep_from == 0 || options.sweep_from > options.sweep_to) {
    return InvalidArgument("threshold sweep range must be 1 ≤ from ≤ to");
  }
  EvalReport report;
  std::vector<HeldOutQuery> queries;
  std::unordered_map<std::string, uint32_t> raw_keys, normalized_keys;
  // Canonicals are normalized log queries; map them back to the truth through the same
  // normalization (the first truth line with a given normal form decides).
  std::unordered_map<std::string, uint32_t> normalized_truth;
  for (const auto& [query, cluster] : truth)
    normalized_truth.try_emplace(Normalize(query), cluster);
  std::vector<uint32_t> canonical_truth(index->info().clusters, kNoTruth);
  for (uint32_t c = 0; c < canonical_truth.size(); ++c) {
    auto it = normalized_truth.find(std::string(index->Canonical(c)));
    if (it != normalized_truth.end()) canonical_truth[c] = it->second;
  }
  double lookup_seconds = 0;
  LogLine line;
  while (reader.Next(&line)) {
    HeldOutQuery q{};
    q.count = line.count;
    auto t = truth.find(std::string(line.query));
    q.truth = t == truth.end() ? kNoTruth : t->second;
    report.unknown_truth += q.truth == kNoTruth;
    q.raw_key = raw_keys.try_emplace(std::string(line.query), raw_keys.size()).first->second;
    q.normalized_key =
        normalized_keys.try_emplace(Normalize(line.query), normalized_keys.size()).first->second;
    auto start = std::chrono::steady_clock::now();
    auto best = index->BestCandidate(line.query);
    lookup_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    q.candidate = best ? best->cluster_id : UINT32_MAX;
    q.votes = best ? best->votes : 0;
    q.candidate_correct =
        best && q.truth != kNoTruth && canonical_truth[best->cluster_id] == q.truth;
    queries.push_back(q);
  }
  KVIK_RETURN_IF_ERROR(reader.status());
  report.bad_lines = reader.bad_lines();
  report.distinct_queries = queries.size();
  if (queries.empty())
    return InvalidArgument("held-out log " + options.log_path + ": no usable lines");
  report.mean_lookup_us = 1e6 * lookup_seconds / queries.size();

  // Head = requests whose true cluster is among the most requested head_fraction of clusters.
  std::unordered_map<uint32_t, uint64_t> traffic;
  for (const auto& q : queries) traffic[q.truth] += q.count;
  std::vector<std::pair<uint64_t, uint32_t>> ranked;
  for (const auto& [cluster, count] : traffic) ranked.push_back({count, cluster});
  std::sort(ranked.rbegin(), ranked.rend());
  size_t head_clusters =
      std::max<size_t>(1, static_cast<size_t>(ranked.size() * options.head_fraction));
  std::unordered_set<uint32_t> head;
  for (size_t i = 0; i < std::min(head_clusters, ranked.size()); ++i) head.insert(ranked[i].second);

  // A seeded shuffle of all requests: which request of a key comes first decides head/tail misses.
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < queries.size(); ++i) {
    queries[i].head = head.count(queries[i].truth) > 0;
    report.head_requests += queries[i].head ? queries[i].count : 0;
    order.insert(order.end(), queries[i].count, i);
  }
  report.requests = order.size();
  std::shuffle(order.begin(), order.end(), std::mt19937_64(options.seed));

  auto exact = [](const HeldOutQuery&) { return false; };
  report.exact_raw = Replay(
      queries, order, [](const HeldOutQuery& q) { return uint64_t{q.raw_key}; }, exact);
  report.exact_raw.name = "exact (raw)";
  report.exact_normalized = Replay(
      queries, order, [](const HeldOutQuery& q) { return uint64_t{q.normalized_key}; }, exact);
  report.exact_normalized.name = "exact (normalized)";
  const double raw_entries = static_cast<double>(report.exact_raw.entries);
  report.exact_normalized.capacity_gain = raw_entries / report.exact_normalized.entries;
  report.oracle = Replay(
      queries, order,
      [](const HeldOutQuery& q) {
        return q.truth == kNoTruth ? uint64_t{q.normalized_key} : (uint64_t{2} << 32) | q.truth;
      },
      exact);
  report.oracle.name = "oracle (true cluster)";
  report.oracle.capacity_gain = raw_entries / report.oracle.entries;

  // Semantic key: the canonical cluster when the vote passes, else the normalized string (a miss
  // in the index still caches exactly, as the exact-match cache would).
  auto semantic_at = [&](uint32_t min_votes) {
    auto passes = [min_votes](const HeldOutQuery& q) {
      return q.candidate != UINT32_MAX && q.votes >= min_votes;
    };
    EvalRow row = Replay(
        queries, order,
        [&](const HeldOutQuery& q) {
          return passes(q) ? (uint64_t{1} << 32) | q.candidate : uint64_t{q.normalized_key};
        },
        passes);
    row.name = "semantic";
    row.min_votes = min_votes;
    row.capacity_gain = raw_entries / row.entries;
    return row;
  };
  uint32_t chosen = options.min_votes ? options.min_votes : (index->info().num_hashes + 1) / 2;
  report.semantic = semantic_at(chosen);
  for (uint32_t v = options.sweep_from; v <= options.sweep_to && v <= index->info().num_hashes;
       ++v) {
    report.sweep.push_back(semantic_at(v));
  }
  return report;
}

}  // namespace kvik::lsh
