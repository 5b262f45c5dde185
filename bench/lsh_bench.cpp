// Micro-benchmarks of the semantic query cache's lookup path: normalize, weighted MinHash, and
// Index::Lookup on an index built from a generated log (docs/semantic-cache.md, "Benchmarks").
// Per-lookup percentiles (p50/p99) come from `kvik lsh bench`; these are means per call.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kvik/lsh.h"
#include "kvik/lsh_eval.h"

namespace kvik::lsh {
namespace {

const std::vector<std::string>& SampleQueries() {
  static const std::vector<std::string> queries = {
      "Nike Running-Shoes, Men's",        "  running shoe   nike  ",
      "trail running shoes by nike!",     "ADIDAS rain jacket 2.5 l",
      "Wool Beanie Hats \u2014 Sale",     "leather hiking boots size 10",
      "cheap cotton crew socks (6 pack)", "best noise cancelling headphones"};
  return queries;
}

void BM_Normalize(benchmark::State& state) {
  const auto& queries = SampleQueries();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Normalize(queries[i++ % queries.size()]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Normalize);

// K = 36 bucket keys from `tokens` weighted tokens (72 ICWS samples at rows = 2).
void BM_WeightedMinHashBucketKeys(benchmark::State& state) {
  MinHasher hasher;
  std::vector<WeightedToken> tokens;
  for (int t = 0; t < state.range(0); ++t)
    tokens.push_back({HashToken("token" + std::to_string(t)), 1.0 + 0.7 * t});
  for (auto _ : state) benchmark::DoNotOptimize(hasher.BucketKeys(tokens));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WeightedMinHashBucketKeys)->Arg(2)->Arg(3)->Arg(5)->Arg(8);

// An index over a generated 200K-query log (built once, ~5 s), looked up with its held-out log.
struct Fixture {
  std::string dir;
  std::shared_ptr<const Index> index;
  std::vector<std::string> held_out, typos;
};

// A one-letter typo (adjacent transposition) in the longest token, as the generator makes them.
std::string WithTypo(const std::string& query) {
  auto tokens = Tokenize(query);
  size_t longest = 0;
  for (size_t t = 1; t < tokens.size(); ++t) {
    if (tokens[t].size() > tokens[longest].size()) longest = t;
  }
  std::string& word = tokens[longest];
  if (word.size() >= 5) std::swap(word[2], word[3]);
  std::string out;
  for (const auto& token : tokens) out += (out.empty() ? "" : " ") + token;
  return out;
}

Fixture& LookupFixture() {
  static Fixture fixture = [] {
    Fixture f;
    f.dir = (std::filesystem::temp_directory_path() / "kvik-lsh-bench").string();
    std::filesystem::create_directories(f.dir);
    GenLogOptions gen;
    gen.seed = 1;
    gen.queries = 200000;
    gen.held_out_queries = 20000;
    gen.out_path = f.dir + "/train.tsv";
    gen.held_out_path = f.dir + "/held.tsv";
    gen.lexicon_path = f.dir + "/lexicon.tsv";
    if (!GenerateLog(gen).ok()) std::abort();
    BuildOptions build;
    build.log_path = gen.out_path;
    build.lexicon_path = gen.lexicon_path;
    build.out_path = f.dir + "/index.kvlsh";
    if (!BuildIndex(build).ok()) std::abort();
    auto index = Index::Open(build.out_path);
    if (!index.ok()) std::abort();
    f.index = *index;
    std::ifstream in(gen.held_out_path);
    for (std::string line; std::getline(in, line);) {
      f.held_out.push_back(line.substr(0, line.rfind('\t')));
      f.typos.push_back(WithTypo(f.held_out.back()));
    }
    return f;
  }();
  return fixture;
}

void RunLookups(benchmark::State& state, const std::vector<std::string>& queries) {
  const Index& index = *LookupFixture().index;
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    auto hit = index.Lookup(queries[i++ % queries.size()]);
    hits += hit.has_value();
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
  // Per-thread rate averaged over threads (a plain counter would be summed).
  state.counters["hit_rate"] =
      benchmark::Counter(static_cast<double>(hits) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}

void BM_IndexLookup(benchmark::State& state) { RunLookups(state, LookupFixture().held_out); }
BENCHMARK(BM_IndexLookup)->ThreadRange(1, 2)->UseRealTime();

// The same queries with a typo in their longest token: the spelling-correction path.
void BM_IndexLookupTypo(benchmark::State& state) { RunLookups(state, LookupFixture().typos); }
BENCHMARK(BM_IndexLookupTypo)->ThreadRange(1, 2)->UseRealTime();

}  // namespace
}  // namespace kvik::lsh
