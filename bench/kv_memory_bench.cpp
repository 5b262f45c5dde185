// KV memory management measured on the real allocator and engine (numbers for docs/kv-memory.md):
//   BM_Waste          allocated-but-unused KV bytes for 64 sequences of random length 10–2000,
//                     paged (block sizes 1, 16, 64) vs dense pre-allocation of the whole context;
//   BM_SharedPrefix   32 requests = one 1,024-token system prompt + a distinct 32-token question,
//                     served by the engine with and without prefix sharing: wall time (nearly all
//                     prefill), tokens actually computed, and peak KV bytes in use.
// Model for BM_SharedPrefix: $KVIK_BENCH_MODEL, default models/small-f32.gguf (kvik make-model).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kvik/engine.h"
#include "kvik/kv_cache.h"
#include "kvik/synthetic_model.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

constexpr int kSequences = 64;
constexpr int64_t kContext = 2048;

std::vector<int64_t> RandomLengths() {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int64_t> length(10, 2000);
  std::vector<int64_t> lengths(kSequences);
  for (auto& n : lengths) n = length(rng);
  return lengths;
}

// block_size = kContext is the dense baseline: each sequence owns its whole context up front.
void BM_Waste(benchmark::State& state) {
  const int64_t block_size = state.range(0);
  const KvShape shape{2, 2, 32, DType::kF16, DType::kF16};  // waste % does not depend on shape
  const auto lengths = RandomLengths();
  KvCacheStats stats;
  for (auto _ : state) {
    KvCacheOptions options;
    options.shape = shape;
    options.block_size = block_size;
    options.n_blocks = KvCacheOptions::BlocksFor(kContext, kSequences, block_size);
    auto cache = KvCache::Create(options).value();
    for (int64_t n : lengths) {
      const SequenceId seq = cache->AddSequence();
      // Dense systems reserve the maximum length at admission; paged ones grow block by block.
      (void)cache->Reserve(seq, block_size == kContext ? kContext : n);
      cache->Commit(seq, std::vector<int32_t>(n, 1));
    }
    stats = cache->stats();
    benchmark::DoNotOptimize(stats);
  }
  const double used = static_cast<double>(stats.bytes_used);
  state.counters["waste_pct"] = 100.0 * (used - stats.bytes_holding_tokens) / used;
  state.counters["bytes_used"] = used;
  state.counters["bytes_holding_tokens"] = static_cast<double>(stats.bytes_holding_tokens);
  state.SetLabel(block_size == kContext ? "dense (whole context reserved)"
                                        : "paged, block " + std::to_string(block_size));
}
BENCHMARK(BM_Waste)->Arg(1)->Arg(16)->Arg(64)->Arg(kContext)->Iterations(1);

const Model& BenchModel() {
  static std::unique_ptr<Model> model = [] {
    const char* env = std::getenv("KVIK_BENCH_MODEL");
    const std::string path = env ? env : "models/small-f32.gguf";
    auto loaded = Model::Load(path);
    if (!loaded.ok()) {
      SyntheticModelOptions options;
      options.preset = FindModelPreset("small").value();
      if (!WriteSyntheticModel(options, path).ok()) std::abort();
      loaded = Model::Load(path);
    }
    return std::move(loaded).value();
  }();
  return *model;
}

void BM_SharedPrefix(benchmark::State& state) {
  const bool sharing = state.range(0) != 0;
  const Model& model = BenchModel();
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(model.config().vocab_size) - 1);
  std::vector<int32_t> system(1024);
  for (auto& t : system) t = token(rng);
  std::vector<std::vector<int32_t>> prompts(32, system);
  for (auto& p : prompts)
    for (int i = 0; i < 32; ++i) p.push_back(token(rng));

  EngineStats stats;
  uint64_t peak_bytes = 0;
  for (auto _ : state) {
    EngineOptions options;
    options.parallel = 4;
    options.context_tokens = 1088;
    options.max_batch_tokens = 512;
    options.prefix_sharing = sharing;
    auto engine = Engine::Create(model, options, &pool).value();
    for (const auto& p : prompts) {
      GenerationRequest r;
      r.prompt = p;
      r.max_new_tokens = 1;  // the first token: prefill is the work being measured
      r.sampling.temperature = 0;
      (void)engine->Submit(r, nullptr);
    }
    while (engine->Step()) peak_bytes = std::max(peak_bytes, engine->stats().kv.bytes_used);
    stats = engine->stats();
  }
  state.counters["prompt_tokens"] = static_cast<double>(stats.prompt_tokens);
  state.counters["computed_tokens"] =
      static_cast<double>(stats.prompt_tokens - stats.prompt_tokens_cached);
  state.counters["peak_kv_bytes"] = static_cast<double>(peak_bytes);
  state.SetLabel(sharing ? "prefix sharing" : "no sharing");
}
BENCHMARK(BM_SharedPrefix)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvik
