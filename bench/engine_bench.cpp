// Continuous batching without HTTP: N requests decoding together through Engine::Step on this
// thread, so the number is the engine's, not a client's. Reports output tokens/s; batching gain =
// tokens/s at N over tokens/s at 1. Model: $KVIK_BENCH_MODEL, default models/small-f32.gguf.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kvik/engine.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

const Model& BenchModel() {
  static std::unique_ptr<Model> model = [] {
    const char* env = std::getenv("KVIK_BENCH_MODEL");
    auto loaded = Model::Load(env ? env : "models/small-f32.gguf");
    if (!loaded.ok()) {
      std::fprintf(stderr, "engine_bench: %s (kvik make-model --preset small -o models/small-f32.gguf)\n",
                   loaded.status().message().c_str());
      std::exit(1);
    }
    return std::move(loaded).value();
  }();
  return *model;
}

void BM_ConcurrentDecode(benchmark::State& state) {
  const int n_requests = static_cast<int>(state.range(0));
  const Model& model = BenchModel();
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  constexpr int kNewTokens = 64;
  uint64_t generated = 0;
  for (auto _ : state) {
    EngineOptions options;
    options.parallel = n_requests;
    options.context_tokens = 256;
    auto engine = Engine::Create(model, options, &pool).value();
    std::mt19937 rng(5);
    std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(model.config().vocab_size) - 1);
    for (int i = 0; i < n_requests; ++i) {
      GenerationRequest r;
      for (int t = 0; t < 16; ++t) r.prompt.push_back(token(rng));
      r.max_new_tokens = kNewTokens;
      r.stop_at_eos = false;
      (void)engine->Submit(r, nullptr);
    }
    while (engine->Step()) {
    }
    generated += engine->stats().generated_tokens;
  }
  state.counters["output_tok/s"] =
      benchmark::Counter(static_cast<double>(generated), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConcurrentDecode)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->Iterations(1)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvik
