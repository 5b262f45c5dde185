// kvik bench: prefill/decode throughput (llama-bench style) and the KV-cache cost curve.
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/kv_layout.h"
#include "kvik/model.h"
#include "util/large_pages.h"
#include "util/thread_pool.h"

namespace kvik::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Summary {
  double median = 0, mean = 0, stddev = 0;
};

Summary Summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  for (double x : v) s.mean += x / v.size();
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / (v.size() - 1)) : 0;
  return s;
}

std::vector<int64_t> ParseList(const std::string& text) {
  std::vector<int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    values.push_back(std::stoll(item));
  }
  return values;
}

// Largest resident set of this process so far (getrusage reports KiB on Linux).
uint64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

// Random token ids (never BOS/EOS, so nothing special happens) — benchmarks don't need text.
std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(3, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = dist(rng);
  return tokens;
}

struct Bench {
  const Model& model;
  ThreadPool& pool;
  DType kv_dtype;
  int64_t block_size = 16;

  // Bytes of every tensor in the file: what a decode step reads besides the KV cache.
  uint64_t WeightBytes() const {
    uint64_t bytes = 0;
    for (const auto& t : model.file().tensors()) bytes += t.n_bytes;
    return bytes;
  }

  Result<std::unique_ptr<KvCache>> MakeCache(int64_t tokens) const {
    KvCacheOptions options;
    options.shape = model.config().kv_shape(kv_dtype);
    options.block_size = block_size;
    options.n_blocks = KvCacheOptions::BlocksFor(tokens, 1, block_size);
    options.prefix_sharing = false;  // every run must compute its tokens
    return KvCache::Create(options);
  }

  // Wall time of prefilling `n` tokens on top of `depth` cached ones.
  Result<double> PrefillMs(int64_t depth, int64_t n, uint32_t seed) {
    const ModelConfig& c = model.config();
    KVIK_ASSIGN_OR_RETURN(auto cache, MakeCache(depth + n));
    const SequenceId seq = cache->AddSequence();
    ForwardState state(c, std::min<int64_t>(512, depth + n));
    std::vector<float> logits(c.vocab_size);
    const auto tokens = RandomTokens(depth + n, c.vocab_size, seed);
    if (depth > 0) {
      KVIK_RETURN_IF_ERROR(model.Forward({tokens.data(), size_t(depth)}, seq, *cache, state, logits.data(), false, &pool));
    }
    const auto start = Clock::now();
    KVIK_RETURN_IF_ERROR(model.Forward({tokens.data() + depth, size_t(n)}, seq, *cache, state, logits.data(), false, &pool));
    return Ms(start, Clock::now());
  }

  // One sequence decoding random tokens one at a time after `depth` cached ones.
  struct DecodeRun {
    DecodeRun(const ModelConfig& c, std::unique_ptr<KvCache> kv, int64_t capacity, uint32_t seed)
        : cache(std::move(kv)),
          seq(cache->AddSequence()),
          state(c, std::min<int64_t>(512, capacity)),
          logits(c.vocab_size),
          tokens(RandomTokens(capacity, c.vocab_size, seed)) {}
    std::unique_ptr<KvCache> cache;
    SequenceId seq;
    ForwardState state;
    std::vector<float> logits;
    std::vector<int32_t> tokens;
    int64_t next = 0;  // index of the next token to decode
  };

  // A run with `depth` tokens prefilled (at least one, so decode has a context), ready for `n`
  // decode steps.
  Result<std::unique_ptr<DecodeRun>> StartDecode(int64_t depth, int64_t n, uint32_t seed) {
    const int64_t warm = std::max<int64_t>(1, depth);
    KVIK_ASSIGN_OR_RETURN(auto cache, MakeCache(warm + n));
    auto run = std::make_unique<DecodeRun>(model.config(), std::move(cache), warm + n, seed);
    KVIK_RETURN_IF_ERROR(model.Forward({run->tokens.data(), size_t(warm)}, run->seq, *run->cache,
                                       run->state, run->logits.data(), false, &pool));
    run->next = warm;
    return run;
  }

  // Wall time of the run's next decode step.
  Result<double> DecodeStep(DecodeRun& run) {
    const auto start = Clock::now();
    KVIK_RETURN_IF_ERROR(model.Forward({run.tokens.data() + run.next, 1}, run.seq, *run.cache,
                                       run.state, run.logits.data(), false, &pool));
    ++run.next;
    return Ms(start, Clock::now());
  }

  // Per-step wall times of decoding `n` tokens one at a time after `depth` cached ones.
  Result<std::vector<double>> DecodeStepMs(int64_t depth, int64_t n, uint32_t seed) {
    KVIK_ASSIGN_OR_RETURN(auto run, StartDecode(depth, n, seed));
    std::vector<double> steps;
    for (int64_t i = 0; i < n; ++i) {
      KVIK_ASSIGN_OR_RETURN(double ms, DecodeStep(*run));
      steps.push_back(ms);
    }
    return steps;
  }
};

// Fit of y ≈ a·f(x) + b·g(x) (two basis functions) minimising the squared *relative* error
// Σ((a·f + b·g − y) / y)², so points spanning orders of magnitude count alike.
std::pair<double, double> FitTwo(const std::vector<double>& f, const std::vector<double>& g,
                                 const std::vector<double>& y) {
  double ff = 0, fg = 0, gg = 0, fy = 0, gy = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double fi = f[i] / y[i], gi = g[i] / y[i];  // row scaled by 1/y; target becomes 1
    ff += fi * fi, fg += fi * gi, gg += gi * gi, fy += fi, gy += gi;
  }
  const double det = ff * gg - fg * fg;
  if (std::fabs(det) < 1e-300) return {0, 0};
  return {(fy * gg - gy * fg) / det, (gy * ff - fy * fg) / det};
}

int RunKvCost(Bench& bench, const std::vector<int64_t>& contexts, int reps, bool json,
              const std::string& model_path) {
  std::vector<double> cached_ms, recompute_ms;
  for (int64_t ctx : contexts) {
    // Cached: the cost of the one decode step that sees `ctx` earlier tokens.
    auto steps = bench.DecodeStepMs(ctx, reps, 11);
    if (!steps.ok()) return Fail(steps.status());
    cached_ms.push_back(Summarize(*steps).median);
    // Without a cache the same token costs a forward pass over all ctx + 1 tokens.
    std::vector<double> full;
    for (int r = 0; r < reps; ++r) {
      auto ms = bench.PrefillMs(0, ctx + 1, 12 + r);
      if (!ms.ok()) return Fail(ms.status());
      full.push_back(*ms);
    }
    recompute_ms.push_back(Summarize(full).median);
    if (!json) std::fprintf(stderr, "  measured ctx %lld\n", (long long)ctx);
  }
  // Theory: cached decode reads all weights once plus ctx K/V rows → t = a + b·ctx (linear).
  // Recompute runs ctx+1 token rows through the weights plus a causal attention over (ctx+1)²/2
  // pairs → t = c·n + d·n² with n = ctx + 1 (quadratic per token, cubic over a generation).
  std::vector<double> ones, x, n1, n2;
  for (int64_t ctx : contexts) {
    ones.push_back(1), x.push_back(double(ctx));
    n1.push_back(double(ctx + 1)), n2.push_back(double(ctx + 1) * double(ctx + 1));
  }
  const auto [a, b] = FitTwo(ones, x, cached_ms);
  const auto [c, d] = FitTwo(n1, n2, recompute_ms);
  nlohmann::json rows = nlohmann::json::array();
  double worst = 0;
  if (!json) {
    std::printf("KV-cache cost curve: %s, kv %s, %d threads, median of %d\n", model_path.c_str(),
                std::string(Name(bench.kv_dtype)).c_str(), bench.pool.n_threads(), reps);
    std::printf("theory fits: cached = %.4g + %.4g·ctx ms;  recompute = %.4g·n + %.4g·n² ms (n = ctx+1)\n",
                a, b, c, d);
    std::printf("| ctx | cached ms/tok | theory | dev | recompute ms/tok | theory | dev | speed-up |\n");
    std::printf("|----:|----:|----:|----:|----:|----:|----:|----:|\n");
  }
  for (size_t i = 0; i < contexts.size(); ++i) {
    const double cached_theory = a + b * x[i];
    const double recompute_theory = c * n1[i] + d * n2[i];
    const double dev_cached = (cached_ms[i] - cached_theory) / cached_theory * 100;
    const double dev_recompute = (recompute_ms[i] - recompute_theory) / recompute_theory * 100;
    worst = std::max({worst, std::fabs(dev_cached), std::fabs(dev_recompute)});
    rows.push_back({{"ctx", contexts[i]},
                    {"cached_ms", cached_ms[i]},
                    {"cached_theory_ms", cached_theory},
                    {"recompute_ms", recompute_ms[i]},
                    {"recompute_theory_ms", recompute_theory}});
    if (!json) {
      std::printf("| %lld | %.3f | %.3f | %+.1f%% | %.2f | %.2f | %+.1f%% | %.1f× |\n",
                  (long long)contexts[i], cached_ms[i], cached_theory, dev_cached, recompute_ms[i],
                  recompute_theory, dev_recompute, recompute_ms[i] / cached_ms[i]);
    }
  }
  if (json) {
    nlohmann::json out = {{"model", model_path},
                          {"threads", bench.pool.n_threads()},
                          {"kv_dtype", std::string(Name(bench.kv_dtype))},
                          {"reps", reps},
                          {"fit", {{"cached_a_ms", a}, {"cached_b_ms_per_token", b},
                                   {"recompute_c_ms", c}, {"recompute_d_ms", d}}},
                          {"max_abs_deviation_pct", worst},
                          {"rows", rows}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("largest deviation from theory: %.1f%%\n", worst);
  }
  return 0;
}

// Read bandwidth of this machine: all threads stream-sum a buffer, by default one far larger than
// the caches. One Sample() is one pass; the first pass (page tables, first touch) is taken by the
// constructor. The buffer is on huge pages like the model's weights (util/large_pages.h), so the
// ceiling is what the memory can deliver, not what 4 KiB pages let through.
class ReadBandwidthProbe {
 public:
  static constexpr uint64_t kDramBytes = uint64_t{1} << 30;

  explicit ReadBandwidthProbe(ThreadPool& pool, uint64_t bytes = kDramBytes)
      : pool_(pool),
        floats_(static_cast<int64_t>((bytes + 63) / 64 * 16)),
        buffer_(AllocateLargePages(floats_ * sizeof(float))),
        partial_(pool.n_threads() * 16) {
    if (!buffer_) throw std::bad_alloc();
    std::fill_n(data(), floats_, 1.0f);
    Sample();
  }
  ~ReadBandwidthProbe() {
    // Publishing the sums through a volatile keeps the compiler from dropping the reads.
    volatile float sink = 0;
    for (float p : partial_) sink = sink + p;
  }

  double Sample() {
    const auto start = Clock::now();
    const int64_t n_threads = pool_.n_threads();
    pool_.ParallelFor(n_threads, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t begin = floats_ * t / n_threads, end = floats_ * (t + 1) / n_threads;
        partial_[t * 16] = StreamSum(data() + begin, end - begin);
      }
    });
    return floats_ * 4.0 / (Ms(start, Clock::now()) / 1000) / 1e9;
  }

  // The rate of passes back to back, as decode steps read their bytes: one untimed pass (the
  // buffer may have been evicted since), then the median of enough passes to read 1 GiB.
  double SteadySample() {
    Sample();
    std::vector<double> passes;
    for (uint64_t read = 0; passes.size() < 3 || read < kDramBytes; read += floats_ * 4) {
      passes.push_back(Sample());
    }
    return Summarize(passes).median;
  }

 private:
  float* data() { return reinterpret_cast<float*>(buffer_.get()); }
  ThreadPool& pool_;
  int64_t floats_;
  LargePageBuffer buffer_;
  std::vector<float> partial_;
};

int RunRoofline(Bench& bench, int reps, int64_t n_gen, int64_t depth, bool json, const std::string& model_path) {
  const ModelConfig& c = bench.model.config();
  const uint64_t weight_bytes = bench.WeightBytes();
  // A decode step reads every weight once and the K/V of every cached token once (on average the
  // cache holds depth + n_gen/2 tokens during a tg run).
  const double kv_bytes = double(c.kv_shape(bench.kv_dtype).bytes_per_token()) * (depth + n_gen / 2.0);
  // Bandwidth samples alternate with the decode runs and each run is held to the ceiling of the
  // sample just before it: on a shared machine both drift over minutes, and a ceiling measured
  // apart from the runs put the same build anywhere from 52% to 72% (Q4_0) or over 100% (F32).
  ReadBandwidthProbe probe(bench.pool);
  // The DRAM roofline assumes every byte comes from memory each step. Where the last-level cache
  // keeps part of the weights between steps (a 480 MiB-L3 Xeon put small-q8_0 decode at 150% of
  // it), the ceiling the kernels can be held to is a plain read of the step's own bytes, pass
  // after pass: the same cache hits, with nothing else to do. A step of 1 GiB or more is no
  // cache's, and there the DRAM probe is that read (and no second model-sized buffer is needed).
  const double read_per_step = double(weight_bytes) + kv_bytes;
  const uint64_t bytes_per_step = static_cast<uint64_t>(read_per_step);
  std::optional<ReadBandwidthProbe> step_bytes;
  if (bytes_per_step < ReadBandwidthProbe::kDramBytes) {
    step_bytes.emplace(bench.pool, bytes_per_step);
  }
  std::vector<double> bandwidths, step_bandwidths, tps, fractions, step_fractions;
  for (int r = 0; r < reps; ++r) {
    if (step_bytes) step_bandwidths.push_back(step_bytes->SteadySample());
    bandwidths.push_back(probe.Sample());
    if (!step_bytes) step_bandwidths.push_back(bandwidths.back());
    auto steps = bench.DecodeStepMs(depth, n_gen, 300 + r);
    if (!steps.ok()) return Fail(steps.status());
    double total = 0;
    for (double ms : *steps) total += ms;
    tps.push_back(n_gen / (total / 1000));
    const double step_gbps = tps.back() * read_per_step / 1e9;
    fractions.push_back(step_gbps / bandwidths.back());
    step_fractions.push_back(step_gbps / step_bandwidths.back());
  }
  const double bandwidth_gbps = Summarize(bandwidths).median;
  const double step_bandwidth_gbps = Summarize(step_bandwidths).median;
  const double ceiling_tps = bandwidth_gbps * 1e9 / read_per_step;
  const double achieved = Summarize(tps).median, fraction = Summarize(fractions).median;
  const double step_fraction = Summarize(step_fractions).median;
  if (json) {
    nlohmann::json out = {{"model", model_path}, {"threads", bench.pool.n_threads()},
                          {"read_bandwidth_gbps", bandwidth_gbps}, {"weight_bytes", weight_bytes},
                          {"kv_bytes_per_step", kv_bytes}, {"decode_ceiling_tps", ceiling_tps},
                          {"decode_tps_median", achieved}, {"fraction", fraction},
                          {"step_bytes_read_gbps", step_bandwidth_gbps},
                          {"fraction_of_step_bytes_read", step_fraction}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("read bandwidth (%d threads, 1 GiB stream, median of %d, each before a run): %.1f GB/s\n",
                bench.pool.n_threads(), reps, bandwidth_gbps);
    std::printf("%s: weights %s + KV %s per step → decode ceiling %.1f tok/s\n", model_path.c_str(),
                FormatBytes(weight_bytes).c_str(), FormatBytes(uint64_t(kv_bytes)).c_str(), ceiling_tps);
    std::printf("measured tg%lld: %.1f tok/s (median of %d) = %.0f%% of the roofline (median of "
                "each run against its own bandwidth sample)\n",
                (long long)n_gen, achieved, reps, 100 * fraction);
    std::printf("a plain read of a step's %s, pass after pass: %.1f GB/s (median of %d); decode "
                "reads at %.0f%% of that rate (median of each run against its own sample)\n",
                FormatBytes(bytes_per_step).c_str(), step_bandwidth_gbps, reps,
                100 * step_fraction);
  }
  return 0;
}

// Decode at `depth` against decode at depth 0 with their steps interleaved (--depth-loss): both
// meet the same minutes of this machine's drifting bandwidth, which separate runs do not. Each
// step reads every weight plus the KV rows of its cache (on average depth + n_gen/2 of them), so
// the bytes predict tok/s(depth) / tok/s(0); losing no more than that means the extra KV bytes are
// read at least as fast as the weights.
int RunDepthLoss(Bench& bench, int reps, int64_t n_gen, int64_t depth, bool json,
                 const std::string& model_path) {
  const ModelConfig& c = bench.model.config();
  const uint64_t weight_bytes = bench.WeightBytes();
  const double kv_per_token = double(c.kv_shape(bench.kv_dtype).bytes_per_token());
  const int64_t depths[2] = {0, depth};
  double bytes[2], tps_median[2];
  std::vector<double> tps[2];
  for (int d = 0; d < 2; ++d) {
    bytes[d] = double(weight_bytes) + kv_per_token * (std::max<int64_t>(1, depths[d]) + n_gen / 2.0);
  }
  for (int r = 0; r < reps; ++r) {
    std::unique_ptr<Bench::DecodeRun> runs[2];
    for (int d = 0; d < 2; ++d) {
      auto run = bench.StartDecode(depths[d], n_gen, 400 + r);
      if (!run.ok()) return Fail(run.status());
      runs[d] = std::move(*run);
    }
    double total_ms[2] = {0, 0};
    for (int64_t i = 0; i < n_gen; ++i) {
      for (int k = 0; k < 2; ++k) {
        const int d = (i + k) % 2;  // alternate which goes first
        auto ms = bench.DecodeStep(*runs[d]);
        if (!ms.ok()) return Fail(ms.status());
        total_ms[d] += *ms;
      }
    }
    for (int d = 0; d < 2; ++d) tps[d].push_back(n_gen / (total_ms[d] / 1000));
  }
  for (int d = 0; d < 2; ++d) tps_median[d] = Summarize(tps[d]).median;
  const double measured = tps_median[1] / tps_median[0], predicted = bytes[0] / bytes[1];
  // The rate at which the extra KV bytes were read: extra bytes over extra time per step (none
  // when the deeper steps were not slower, which noise can do to a shallow depth).
  const double extra_seconds = 1 / tps_median[1] - 1 / tps_median[0];
  const double extra_gbps = extra_seconds > 0 ? (bytes[1] - bytes[0]) / extra_seconds / 1e9 : 0;
  if (json) {
    nlohmann::json out = {{"model", model_path},
                          {"threads", bench.pool.n_threads()},
                          {"kv_dtype", std::string(Name(bench.kv_dtype))},
                          {"n_gen", n_gen},
                          {"depth", depth},
                          {"tps_depth0_median", tps_median[0]},
                          {"tps_depth_median", tps_median[1]},
                          {"bytes_per_step_depth0", bytes[0]},
                          {"bytes_per_step_depth", bytes[1]},
                          {"ratio_measured", measured},
                          {"ratio_predicted", predicted},
                          {"extra_kv_read_gbps", extra_seconds > 0 ? nlohmann::json(extra_gbps)
                                                                   : nlohmann::json(nullptr)},
                          {"depth0_read_gbps", bytes[0] * tps_median[0] / 1e9}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("decode at depth %lld against depth 0: %s, kv %s, %d threads, tg%lld, steps "
              "interleaved, median of %d\n",
              (long long)depth, model_path.c_str(), std::string(Name(bench.kv_dtype)).c_str(),
              bench.pool.n_threads(), (long long)n_gen, reps);
  for (int d = 0; d < 2; ++d) {
    std::printf("depth %5lld: %.1f tok/s, %s read per step = %.1f GB/s\n", (long long)depths[d],
                tps_median[d], FormatBytes(uint64_t(bytes[d])).c_str(),
                bytes[d] * tps_median[d] / 1e9);
  }
  char extra[96] = "the extra KV bytes took no measurable time";
  if (extra_seconds > 0) {
    std::snprintf(extra, sizeof extra, "the extra KV bytes were read at %.1f GB/s", extra_gbps);
  }
  std::printf("tok/s ratio %.3f, the bytes predict %.3f; %s (%s)\n", measured, predicted,
              extra,
              measured >= predicted ? "no more lost than the bytes predict"
                                    : "more lost than the bytes predict");
  return 0;
}

int RunBench(int argc, char** argv) {
  CLI::App app("Measure prefill (pp) and decode (tg) speed, or the KV-cache cost curve", "bench");
  std::string model_path, prompt_list = "128", kv_dtype = "f32", kv_cost_list;
  int64_t n_gen = 128, depth = 0;
  int reps = 5;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool json = false, roofline = false, depth_loss = false, no_warmup = false;
  app.add_option("-m,--model", model_path, "model .gguf")->required();
  app.add_option("-p,--n-prompt", prompt_list, "prefill sizes, comma-separated (0 = skip)");
  app.add_option("-n,--n-gen", n_gen, "tokens to decode (0 = skip)")->check(AtLeast(0));
  app.add_option("-d,--depth", depth, "tokens already in the cache before each test")
      ->check(AtLeast(0));
  app.add_option("-r,--repetitions", reps, "repetitions")->check(CLI::Range(1, 1000));
  app.add_option("-t,--threads", threads, "threads")->check(CLI::Range(1, 256));
  app.add_option("--kv-dtype", kv_dtype, "KV-cache element type")
      ->check(DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  CLI::Option* kv_cost = app.add_option(
      "--kv-cost", kv_cost_list,
      "cost-curve mode: contexts (e.g. 64,256,1024,2048) for cached vs recompute ms/token");
  CLI::Option* roofline_mode = app.add_flag(
      "--roofline", roofline,
      "measure read bandwidth and compare decode speed with the bandwidth ceiling");
  // The three modes measure different things; one run does one of them.
  app.add_flag("--depth-loss", depth_loss,
               "decode at --depth against depth 0, steps interleaved, vs what the KV bytes predict")
      ->excludes(roofline_mode)
      ->excludes(kv_cost);
  roofline_mode->excludes(kv_cost);
  app.add_flag("--no-warmup", no_warmup,
               "skip the untimed warm-up run before each pp/tg test (llama-bench's --no-warmup)");
  app.add_flag("--json", json, "machine-readable output");
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  std::vector<int64_t> prompts, contexts;
  try {
    prompts = ParseList(prompt_list);
    contexts = ParseList(kv_cost_list);
  } catch (const std::exception&) {
    std::fprintf(stderr, "error: -p and --kv-cost take comma-separated integers\n");
    return kExitUsage;
  }
  for (int64_t v : prompts) {
    if (v < 0) {
      std::fprintf(stderr, "error: -p: prefill sizes must be at least 0, got %lld\n",
                   static_cast<long long>(v));
      return kExitUsage;
    }
  }
  auto model = Model::Load(model_path);
  if (!model.ok()) return Fail(model.status());
  const ModelConfig& c = (*model)->config();
  for (int64_t v : prompts)
    if (depth + v > c.context_length) return Fail(InvalidArgument("-p/--depth exceed the context"));
  for (int64_t v : contexts)
    if (v < 1 || v + 1 > c.context_length) return Fail(InvalidArgument("--kv-cost contexts must be in [1, context)"));
  if (depth + n_gen + 1 > c.context_length) return Fail(InvalidArgument("--depth + -n exceed the context"));

  ThreadPool pool(threads);
  Bench bench{**model, pool, *ParseDType(kv_dtype)};
  if (!contexts.empty()) return RunKvCost(bench, contexts, reps, json, model_path);
  if (depth_loss) {
    if (depth <= 0) return Fail(InvalidArgument("--depth-loss needs --depth > 0"));
    return RunDepthLoss(bench, reps, n_gen > 0 ? n_gen : 128, depth, json, model_path);
  }
  if (roofline) return RunRoofline(bench, reps, n_gen > 0 ? n_gen : 128, depth, json, model_path);

  const uint64_t weight_bytes = bench.WeightBytes();
  nlohmann::json results = nlohmann::json::array();
  if (!json) {
    std::printf("| model | size | params | threads | kv | test | t/s (median) | mean ± stddev |\n");
    std::printf("|---|---:|---:|---:|---|---|---:|---:|\n");
  }
  auto report = [&](const std::string& test, const std::vector<double>& tps) {
    const Summary s = Summarize(tps);
    const std::string name = c.name.empty() ? model_path : c.name;
    if (json) {
      results.push_back({{"model", name}, {"test", test}, {"threads", threads}, {"kv_dtype", kv_dtype},
                         {"depth", depth}, {"tokens_per_second_median", s.median},
                         {"tokens_per_second_mean", s.mean}, {"tokens_per_second_stddev", s.stddev},
                         {"samples", tps}, {"weight_bytes", weight_bytes},
                         {"kv_bytes_per_token", c.kv_shape(bench.kv_dtype).bytes_per_token()},
                         {"peak_rss_bytes", PeakRssBytes()}});
    } else {
      std::printf("| %s | %s | %.2f M | %d | %s | %s | %.2f | %.2f ± %.2f |\n", name.c_str(),
                  FormatBytes(weight_bytes).c_str(), (*model)->n_parameters() / 1e6, threads,
                  kv_dtype.c_str(), test.c_str(), s.median, s.mean, s.stddev);
      std::fflush(stdout);
    }
  };
  const std::string at = depth > 0 ? " @ d" + std::to_string(depth) : "";
  // As llama-bench does, each test first runs once untimed (a whole prefill, or one decode step):
  // the first run in a process pays one-time costs (the weights' first trip through the caches,
  // first touches of scratch memory, sleeping workers) that a served model pays once, not per
  // request. With -r 1 those costs were most of a short test: stories15M-f16 pp128 measured
  // 2,700-5,300 tok/s cold against 8,000-9,700 warm.
  for (int64_t n : prompts) {
    if (n == 0) continue;
    if (!no_warmup) {
      auto ms = bench.PrefillMs(depth, n, 99);
      if (!ms.ok()) return Fail(ms.status());
    }
    std::vector<double> tps;
    for (int r = 0; r < reps; ++r) {
      auto ms = bench.PrefillMs(depth, n, 100 + r);
      if (!ms.ok()) return Fail(ms.status());
      tps.push_back(n / (*ms / 1000));
    }
    report("pp" + std::to_string(n) + at, tps);
  }
  if (n_gen > 0) {
    if (!no_warmup) {
      auto steps = bench.DecodeStepMs(depth, 1, 199);
      if (!steps.ok()) return Fail(steps.status());
    }
    std::vector<double> tps;
    for (int r = 0; r < reps; ++r) {
      auto steps = bench.DecodeStepMs(depth, n_gen, 200 + r);
      if (!steps.ok()) return Fail(steps.status());
      double total = 0;
      for (double ms : *steps) total += ms;
      tps.push_back(n_gen / (total / 1000));
    }
    report("tg" + std::to_string(n_gen) + at, tps);
  }
  if (json) std::printf("%s\n", results.dump(2).c_str());
  return 0;
}

}  // namespace

KVIK_COMMAND("bench", "prefill/decode tokens per second, or the KV-cache cost curve (--kv-cost)", RunBench);

}  // namespace kvik::cli
