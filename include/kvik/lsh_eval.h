// Synthetic query logs with known true clusters, and the offline evaluation that replays a log
// through an index to choose --min-votes (hit rate, precision, capacity gain vs exact match).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvik/status.h"

namespace kvik::lsh {

// A Zipf log over "intents" (brand? + modifiers + head noun). Each request renders its intent with
// random surface changes that keep the intent: plural head, reordering, a typo, a head synonym, a
// filler modifier ("cheap", "online"…), case and punctuation. Intents that differ only in brand are
// distinct clusters (brand swaps must not merge).
struct GenLogOptions {
  uint64_t seed = 1;
  uint64_t queries = 100000;      // distinct lines in the training log
  uint64_t held_out_queries = 0;  // distinct lines in the held-out log (0 = none)
  uint64_t intents = 0;           // 0: queries / 4
  double zipf_exponent = 1.0;
  std::string out_path;       // training log: query <TAB> count
  std::string held_out_path;  // held-out log (independent draws, same intents)
  std::string truth_path;     // query <TAB> intent id, for every line of both logs
  std::string lexicon_path;   // optional: the generator's role lexicon (brands, heads, synonyms)
};

struct GenLogStats {
  uint64_t intents = 0, train_lines = 0, train_requests = 0, held_out_lines = 0,
           held_out_requests = 0;
};

Result<GenLogStats> GenerateLog(const GenLogOptions& options);

struct EvalOptions {
  std::string index_path;
  std::string log_path;    // held-out log (query <TAB> count), replayed in a seeded random order
  std::string truth_path;  // query <TAB> true cluster
  uint32_t min_votes = 0;  // 0: the index default (num_hashes / 2)
  uint32_t sweep_from = 12, sweep_to = 30;
  double head_fraction = 0.01;  // the most requested 1% of true clusters are "head"
  uint64_t seed = 1;
  std::string svg_path;  // optional threshold-sweep plot
};

// One replay through an unbounded cache: the first request for a key misses, later ones hit.
struct EvalRow {
  std::string name;  // "exact (raw)", "exact (normalized)", "semantic"
  uint32_t min_votes = 0;
  uint64_t hits = 0, head_hits = 0, tail_hits = 0, correct_hits = 0, entries = 0;
  double hit_rate = 0, head_hit_rate = 0, tail_hit_rate = 0;
  double precision = 1;      // correct hits / hits (a hit is right when the true clusters agree)
  double capacity_gain = 1;  // raw exact-match entries / this scheme's entries, same traffic
};

struct EvalReport {
  uint64_t requests = 0, head_requests = 0, distinct_queries = 0, bad_lines = 0, unknown_truth = 0;
  double mean_lookup_us = 0;
  // oracle: keyed by the true cluster, the best any clustering could do on this replay.
  EvalRow exact_raw, exact_normalized, semantic, oracle;
  std::vector<EvalRow> sweep;
};

Result<EvalReport> Evaluate(const EvalOptions& options);

// Renders the sweep as an SVG line chart (hit rate, tail hit rate, precision vs min votes).
std::string SweepSvg(const EvalReport& report);

}  // namespace kvik::lsh
