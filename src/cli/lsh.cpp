// kvik lsh gen-log|build|lookup|eval|bench|serve — the semantic query cache's command line.
#include "kvik/lsh.h"

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/lsh_eval.h"
#include "kvik/lsh_serve.h"

namespace kvik::cli {
namespace {

double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

int RunGenLog(const lsh::GenLogOptions& options) {
  auto stats = lsh::GenerateLog(options);
  if (!stats.ok()) return Fail(stats.status());
  std::printf("intents %llu\ntrain: %llu lines, %llu requests -> %s\n",
              static_cast<unsigned long long>(stats->intents),
              static_cast<unsigned long long>(stats->train_lines),
              static_cast<unsigned long long>(stats->train_requests), options.out_path.c_str());
  if (stats->held_out_lines > 0) {
    std::printf("held-out: %llu lines, %llu requests -> %s\n",
                static_cast<unsigned long long>(stats->held_out_lines),
                static_cast<unsigned long long>(stats->held_out_requests),
                options.held_out_path.c_str());
  }
  return 0;
}

int RunBuild(lsh::BuildOptions options, uint64_t memory_mb) {
  options.memory_budget_bytes = memory_mb << 20;
  options.progress = isatty(STDERR_FILENO);
  auto stats = lsh::BuildIndex(options);
  if (!stats.ok()) return Fail(stats.status());
  if (stats->bad_lines > 0) {
    std::fprintf(stderr, "warning: skipped %llu malformed line(s) of %llu, e.g.:\n",
                 static_cast<unsigned long long>(stats->bad_lines),
                 static_cast<unsigned long long>(stats->lines));
    for (const auto& example : stats->bad_line_examples)
      std::fprintf(stderr, "  %s\n", example.c_str());
  }
  if (stats->empty_queries > 0) {
    std::fprintf(stderr, "warning: skipped %llu line(s) whose query is empty after normalization\n",
                 static_cast<unsigned long long>(stats->empty_queries));
  }
  std::printf(
      "queries %llu (%llu distinct token sets) -> clusters %llu (edges kept %llu of %llu "
      "candidate votes)\nindex %s: %.1f MiB; temp files %.1f MiB; %.2f s; peak RSS %.1f MiB\n",
      static_cast<unsigned long long>(stats->queries),
      static_cast<unsigned long long>(stats->distinct_token_sets),
      static_cast<unsigned long long>(stats->clusters),
      static_cast<unsigned long long>(stats->edges_kept),
      static_cast<unsigned long long>(stats->edge_records), options.out_path.c_str(),
      stats->index_bytes / 1048576.0, stats->temp_bytes / 1048576.0, stats->seconds, PeakRssMiB());
  if (options.typo.enabled) {
    std::printf("typo correction: %llu log tokens corrected, %llu targets\n",
                static_cast<unsigned long long>(stats->typo_corrections),
                static_cast<unsigned long long>(stats->typo_targets));
  }
  return 0;
}

// Looks up each query (from --query or one per stdin line): "query<TAB>canonical<TAB>votes" or
// "query<TAB>-<TAB>votes" on a miss.
int RunLookup(const std::string& index_path, const std::vector<std::string>& queries,
              uint32_t min_votes) {
  auto index = lsh::Index::Open(index_path);
  if (!index.ok()) return Fail(index.status());
  auto answer = [&](const std::string& query) {
    auto best = (*index)->BestCandidate(query);
    uint32_t threshold = min_votes ? min_votes : ((*index)->info().num_hashes + 1) / 2;
    bool hit = best && best->votes >= threshold;
    std::printf("%s\t%s\t%u\n", query.c_str(), hit ? std::string(best->canonical).c_str() : "-",
                best ? best->votes : 0);
  };
  if (!queries.empty()) {
    for (const auto& q : queries) answer(q);
  } else {
    std::string line;
    while (std::getline(std::cin, line)) answer(line);
  }
  return 0;
}

// Latency of Index::Lookup over the queries of a log, on `threads` threads sharing one index:
// every lookup is timed on its own (steady_clock, ~20 ns overhead) for the percentiles.
int RunBench(const std::string& index_path, const std::string& log_path, int threads,
             uint64_t lookups_per_thread) {
  auto index = lsh::Index::Open(index_path);
  if (!index.ok()) return Fail(index.status());
  std::vector<std::string> queries;
  {
    std::ifstream in(log_path);
    if (!in) return Fail(IoError("query log " + log_path + ": cannot open"));
    std::string line;
    while (std::getline(in, line)) queries.push_back(line.substr(0, line.rfind('\t')));
  }
  if (queries.empty()) return Fail(InvalidArgument("query log " + log_path + ": empty"));
  std::vector<std::vector<uint32_t>> latencies(threads);
  std::vector<uint64_t> hits(threads, 0);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto& mine = latencies[t];
      mine.reserve(lookups_per_thread);
      size_t next = (queries.size() / threads) * t;
      for (uint64_t i = 0; i < lookups_per_thread; ++i) {
        const std::string& q = queries[next++ % queries.size()];
        auto begin = std::chrono::steady_clock::now();
        auto hit = (*index)->Lookup(q);
        auto end = std::chrono::steady_clock::now();
        hits[t] += hit.has_value();
        mine.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count()));
      }
    });
  }
  for (auto& w : workers) w.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<uint32_t> all;
  uint64_t total_hits = 0;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), latencies[t].begin(), latencies[t].end());
    total_hits += hits[t];
  }
  std::sort(all.begin(), all.end());
  auto percentile = [&](double p) {
    return all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))] / 1000.0;
  };
  auto info = (*index)->info();
  std::printf("index %s: %llu queries, %llu clusters, %llu buckets, %.1f MiB\n", index_path.c_str(),
              static_cast<unsigned long long>(info.queries),
              static_cast<unsigned long long>(info.clusters),
              static_cast<unsigned long long>(info.buckets), info.file_bytes / 1048576.0);
  std::printf("threads %d, lookups %zu (%.1f%% hits), %.0f lookups/s\n", threads, all.size(),
              100.0 * total_hits / all.size(), all.size() / seconds);
  std::printf("latency us: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", percentile(0.50),
              percentile(0.90), percentile(0.99), percentile(0.999), all.back() / 1000.0);
  return 0;
}

void PrintRow(const lsh::EvalRow& row) {
  std::printf("| %-20s | %5u | %7.2f%% | %7.2f%% | %7.2f%% | %8.3f%% | %9llu | %6.2fx |\n",
              row.name.c_str(), row.min_votes, 100 * row.hit_rate, 100 * row.head_hit_rate,
              100 * row.tail_hit_rate, 100 * row.precision,
              static_cast<unsigned long long>(row.entries), row.capacity_gain);
}

int RunEval(const lsh::EvalOptions& options) {
  auto report = lsh::Evaluate(options);
  if (!report.ok()) return Fail(report.status());
  if (report->bad_lines > 0) {
    std::fprintf(stderr, "warning: skipped %llu malformed log line(s)\n",
                 static_cast<unsigned long long>(report->bad_lines));
  }
  std::printf(
      "replayed %llu requests (%llu distinct queries, %llu head requests); mean lookup %.2f us\n",
      static_cast<unsigned long long>(report->requests),
      static_cast<unsigned long long>(report->distinct_queries),
      static_cast<unsigned long long>(report->head_requests), report->mean_lookup_us);
  if (report->unknown_truth > 0) {
    std::printf("note: %llu queries have no truth label and count as wrong when they hit\n",
                static_cast<unsigned long long>(report->unknown_truth));
  }
  const char* header =
      "| scheme               | votes | hit rate | head hit | tail hit | precision |   entries | "
      "capacity |\n"
      "|----------------------|-------|----------|----------|----------|-----------|-----------|---"
      "-------|\n";
  std::printf("\n%s", header);
  PrintRow(report->exact_raw);
  PrintRow(report->exact_normalized);
  PrintRow(report->semantic);
  PrintRow(report->oracle);
  std::printf("\nthreshold sweep:\n%s", header);
  for (const auto& row : report->sweep) PrintRow(row);
  if (!options.svg_path.empty()) {
    std::ofstream(options.svg_path) << lsh::SweepSvg(*report);
    std::printf("\nplot: %s\n", options.svg_path.c_str());
  }
  return 0;
}

int RunLsh(int argc, char** argv) {
  CLI::App app{"kvik lsh: semantic query cache (weighted MinHash LSH)", "lsh"};
  app.require_subcommand(1);

  lsh::GenLogOptions gen;
  auto* gen_cmd =
      app.add_subcommand("gen-log", "generate a Zipf query log with known true clusters");
  gen_cmd->add_option("--seed", gen.seed, "random seed");
  gen_cmd->add_option("--queries", gen.queries, "distinct lines in the training log")->required();
  gen_cmd->add_option("--out", gen.out_path, "training log (query<TAB>count)")->required();
  gen_cmd->add_option("--held-out", gen.held_out_path, "held-out log");
  gen_cmd->add_option("--held-out-queries", gen.held_out_queries,
                      "distinct lines in the held-out log");
  gen_cmd->add_option("--truth", gen.truth_path, "query<TAB>true cluster for both logs");
  gen_cmd->add_option("--lexicon", gen.lexicon_path, "write the generator's role lexicon here");
  gen_cmd->add_option("--intents", gen.intents, "number of true clusters (default queries/4)");
  gen_cmd->add_option("--zipf", gen.zipf_exponent, "Zipf exponent of intent popularity");

  lsh::BuildOptions build;
  uint64_t memory_mb = 256;
  bool plain = false;
  auto* build_cmd = app.add_subcommand("build", "cluster a query log into an index file");
  build_cmd->add_option("--log", build.log_path, "query log, TSV query<TAB>count")->required();
  build_cmd->add_option("--out", build.out_path, "index file to write (*.kvlsh)")->required();
  build_cmd->add_option("--lexicon", build.lexicon_path, "role lexicon TSV (token<TAB>role)");
  build_cmd->add_option("--votes", build.edge_votes, "shared buckets needed to join two queries");
  build_cmd->add_option("--k", build.minhash.num_hashes, "hash functions (votes per query)");
  build_cmd->add_option("--rows", build.minhash.rows, "samples per bucket key");
  build_cmd->add_option("--seed", build.minhash.seed, "MinHash seed");
  build_cmd->add_option("--bucket-capacity", build.bucket_capacity,
                        "canonical ids kept per bucket");
  build_cmd->add_option("--max-pairs-bucket", build.max_pairs_bucket,
                        "bucket size linked all-pairs");
  build_cmd->add_option("--memory-mb", memory_mb, "memory budget for shard sorting");
  build_cmd->add_option("--temp-dir", build.temp_dir, "directory for temporary shard files");
  build_cmd->add_option("--members", build.members_path,
                        "write query<TAB>cluster id for every query");
  build_cmd->add_flag("--plain", plain, "unweighted MinHash (ignore token weights)");
  build_cmd->add_flag("--stop-words", build.normalize.drop_stop_words, "drop English stop words");
  build_cmd->add_option("--corrections", build.corrections_path,
                        "write token<TAB>target for every typo corrected");
  bool no_typos = false;
  build_cmd->add_flag("--no-typo-correction", no_typos, "keep one-edit typos as new words");
  build_cmd->add_option("--typo-ratio", build.typo.min_ratio,
                        "a typo's target is at least this many times as frequent");
  build_cmd->add_option("--typo-min-df", build.typo.min_target_df,
                        "log queries a correction target must occur in");

  std::string index_path;
  std::vector<std::string> queries;
  uint32_t min_votes = 0;
  auto* lookup_cmd = app.add_subcommand("lookup", "map queries to canonical queries");
  lookup_cmd->add_option("--index", index_path, "index file")->required();
  lookup_cmd->add_option("--query,-q", queries, "query (default: one per stdin line)");
  lookup_cmd->add_option("--min-votes", min_votes, "votes needed for a hit (default k/2)");

  lsh::EvalOptions eval;
  auto* eval_cmd = app.add_subcommand("eval", "replay a held-out log: hit rate, precision, sweep");
  eval_cmd->add_option("--index", eval.index_path, "index file")->required();
  eval_cmd->add_option("--log", eval.log_path, "held-out log (query<TAB>count)")->required();
  eval_cmd->add_option("--truth", eval.truth_path, "query<TAB>true cluster")->required();
  eval_cmd->add_option("--min-votes", eval.min_votes, "votes needed for a hit (default k/2)");
  eval_cmd->add_option("--head-fraction", eval.head_fraction, "share of clusters counted as head");
  eval_cmd->add_option("--svg", eval.svg_path, "write the threshold sweep plot here");
  eval_cmd->add_option("--seed", eval.seed, "replay order seed");

  std::string bench_log;
  int bench_threads = 1;
  uint64_t bench_lookups = 200000;
  auto* bench_cmd = app.add_subcommand("bench", "lookup latency percentiles and throughput");
  bench_cmd->add_option("--index", index_path, "index file")->required();
  bench_cmd->add_option("--log", bench_log, "queries to look up (first TSV column)")->required();
  bench_cmd->add_option("--threads", bench_threads, "threads sharing the index")
      ->check(CLI::Range(1, 256));
  bench_cmd->add_option("--lookups", bench_lookups, "lookups per thread");

  lsh::ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "HTTP lookup + result cache service");
  serve_cmd->add_option("--index", serve.index_path, "index file")->required();
  serve_cmd->add_option("--host", serve.host, "listen address");
  serve_cmd->add_option("--port", serve.port, "listen port");
  serve_cmd->add_option("--min-votes", serve.min_votes, "votes needed for a hit (default k/2)");
  serve_cmd->add_option("--redis", serve.redis_address, "HOST:PORT of a shared Redis result store");
  serve_cmd->add_option("--cache-mb", serve.cache_megabytes, "in-process result cache capacity");
  serve_cmd->add_option("--ttl-s", serve.ttl_seconds, "result time to live (0 = none)");

  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;
  if (gen_cmd->parsed()) return RunGenLog(gen);
  if (build_cmd->parsed()) {
    build.minhash.weighted = !plain;
    build.typo.enabled = !no_typos;
    return RunBuild(build, memory_mb);
  }
  if (lookup_cmd->parsed()) return RunLookup(index_path, queries, min_votes);
  if (eval_cmd->parsed()) return RunEval(eval);
  if (bench_cmd->parsed()) return RunBench(index_path, bench_log, bench_threads, bench_lookups);
  if (serve_cmd->parsed()) {
    Status status = lsh::Serve(serve);
    return status.ok() ? 0 : Fail(status);
  }
  return 2;
}

}  // namespace
}  // namespace kvik::cli

KVIK_COMMAND("lsh", "semantic query cache: gen-log, build, lookup, eval, bench, serve",
             kvik::cli::RunLsh);
