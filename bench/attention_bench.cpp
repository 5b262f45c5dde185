// Decode attention for one layer of the small model's shape (12 query heads sharing 4 KV heads,
// head_dim 64, 2048 cached tokens in blocks of 16): AttendHead per query head against AttendGroup
// (one pass over each KV head's rows for its 3 query heads) and AttendGroups (several KV heads per
// call). The kernel before grouping (commit 8c41ad9) measured 457 µs per cached layer and 1038 µs
// from DRAM here, against AttendGroup's 121 and 594 µs at the time (block-major pool). bytes_per_second counts
// the K and V bytes one call of the layer has to read (each row once), so it is the effective
// bandwidth the layer's attention runs at.
//   build/attention_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Arg layers: 1 keeps the layer's KV (4 MiB at f32) in the caches; 16 cycles through 16 layers'
// KV (64 MiB), as a decode step does, so rows come from DRAM. BM_DecodeLayerVsPlainRead runs a
// layer at two threads alternated with a plain read of the pool, for the ratio of the two rates.
// Experiments on the memory side (they change the cache, not the kernels):
//   KVIK_BENCH_BLOCK=64|256|2048  another block size: a (layer, head) run is block_size rows long
//   KVIK_BENCH_SMALL_PAGES=1      madvise(MADV_NOHUGEPAGE) on the pool before it is written: 4 KiB
//                                 pages, as the pool had before it asked for huge ones
// and on the kernel side: KVIK_BENCH_HEAD_DIM=128  another head size (a layer's KV grows with it).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "attention/group_kernels.h"
#include "kvik/attention.h"
#include "kvik/kv_cache.h"
#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

constexpr int64_t kQueryHeads = 12, kKvHeads = 4, kContext = 2048, kBlock = 16;
// $KVIK_BENCH_HEAD_DIM: another head size (64 by default, the small model's; 128 is Llama-2/3's).
const int64_t kHeadDim = [] {
  const char* env = std::getenv("KVIK_BENCH_HEAD_DIM");
  return env ? std::atoll(env) : int64_t{64};
}();
constexpr DType kTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};

// `layers` layers of one sequence of kContext random tokens.
struct Cache {
  std::unique_ptr<KvCache> cache;
  SequenceId seq = 0;
  std::vector<float> q, out;
};

Cache MakeCache(DType dtype, int64_t layers) {
  KvCacheOptions options;
  options.shape = {layers, kKvHeads, kHeadDim, dtype, dtype};
  // $KVIK_BENCH_BLOCK: another block size (tokens), to see what the runs' length does.
  const char* block_env = std::getenv("KVIK_BENCH_BLOCK");
  const int64_t block = block_env ? std::atoi(block_env) : kBlock;
  options.block_size = block;
  options.n_blocks = KvCacheOptions::BlocksFor(kContext, 1, block);
  Cache c{KvCache::Create(options).value(), 0, {}, {}};
  c.seq = c.cache->AddSequence();
  if (!c.cache->Reserve(c.seq, kContext).ok()) std::abort();
  if (std::getenv("KVIK_BENCH_SMALL_PAGES")) {
    // Back the pool, not yet written, with 4 KiB pages (the whole 2 MiB-aligned part of it).
    constexpr uintptr_t kHuge = 2 << 20;
    const auto start = reinterpret_cast<uintptr_t>(c.cache->HeadView(c.seq, 0, 0).keys.pool);
    const uintptr_t begin = (start + kHuge - 1) & ~(kHuge - 1);
    const uintptr_t end = (start + c.cache->bytes_allocated()) & ~(kHuge - 1);
    if (end > begin && madvise(reinterpret_cast<void*>(begin), end - begin, MADV_NOHUGEPAGE) != 0) {
      std::abort();
    }
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> k(kKvHeads * kHeadDim), v(kKvHeads * kHeadDim);
  for (int64_t p = 0; p < kContext; ++p) {
    for (auto& x : k) x = normal(rng);
    for (auto& x : v) x = normal(rng);
    for (int64_t layer = 0; layer < layers; ++layer)
      c.cache->Store(c.seq, layer, p, k.data(), v.data());
  }
  c.cache->Commit(c.seq, std::vector<int32_t>(kContext, 7));
  c.q.resize(kQueryHeads * kHeadDim);
  for (auto& x : c.q) x = normal(rng);
  c.out.resize(kQueryHeads * kHeadDim);
  return c;
}

enum class Kernel {
  kNewPerHead,     // AttendHead per query head
  kGroup,          // AttendGroup per KV head
  kGroupsOfTwo,    // AttendGroups over 2 KV heads at a time (a thread's share at 2 threads)
  kGroupsOfFour,   // AttendGroups over the layer's 4 KV heads
};

// Args: type index, layers.
template <Kernel K>
void BM_DecodeLayer(benchmark::State& state) {
  const DType dtype = kTypes[state.range(0)];
  const int64_t layers = state.range(1);
  Cache c = MakeCache(dtype, layers);
  constexpr int64_t group = kQueryHeads / kKvHeads;
  int64_t layer = 0;
  for (auto _ : state) {
    if constexpr (K == Kernel::kGroupsOfTwo || K == Kernel::kGroupsOfFour) {
      constexpr int64_t views = K == Kernel::kGroupsOfTwo ? 2 : 4;
      for (int64_t kv_head = 0; kv_head < kKvHeads; kv_head += views) {
        KvHeadView kv[views];
        for (int64_t v = 0; v < views; ++v) kv[v] = c.cache->HeadView(c.seq, layer, kv_head + v);
        const int64_t offset = kv_head * group * kHeadDim;
        AttendGroups(kv, 0, kContext, c.q.data() + offset, group, c.out.data() + offset);
      }
      benchmark::DoNotOptimize(c.out.data());
      layer = (layer + 1) % layers;
      continue;
    }
    for (int64_t kv_head = 0; kv_head < kKvHeads; ++kv_head) {
      const KvHeadView view = c.cache->HeadView(c.seq, layer, kv_head);
      const float* q = c.q.data() + kv_head * group * kHeadDim;
      float* out = c.out.data() + kv_head * group * kHeadDim;
      if constexpr (K == Kernel::kGroup) {
        AttendGroup(view, 0, kContext, q, group, out);
      } else {
        for (int64_t h = 0; h < group; ++h) {
          AttendHead(view, 0, kContext, q + h * kHeadDim, out + h * kHeadDim);
        }
      }
    }
    benchmark::DoNotOptimize(c.out.data());
    layer = (layer + 1) % layers;
  }
  state.SetBytesProcessed(state.iterations() * 2 * kKvHeads * kContext * RowBytes(dtype, kHeadDim));
  state.SetLabel(std::string(Name(dtype)));
}

// The group kernel of one ISA (0 scalar, 1 avx2, 2 avx512). Args: isa, type index, layers.
void BM_DecodeLayerIsa(benchmark::State& state) {
  const attention::GroupKernels sets[] = {attention::ScalarGroupKernels(),
                                          attention::Avx2GroupKernels(),
                                          attention::Avx512GroupKernels()};
  const attention::GroupKernels& kernels = sets[state.range(0)];
  if (!kernels) return state.SkipWithError("ISA not supported");
  const DType dtype = kTypes[state.range(1)];
  const int64_t layers = state.range(2);
  Cache c = MakeCache(dtype, layers);
  constexpr int64_t group = kQueryHeads / kKvHeads;
  int64_t layer = 0;
  for (auto _ : state) {
    for (int64_t kv_head = 0; kv_head < kKvHeads; ++kv_head) {
      const KvHeadView view = c.cache->HeadView(c.seq, layer, kv_head);
      attention::AttendGroupWith(kernels, view, 0, kContext,
                                 c.q.data() + kv_head * group * kHeadDim, group,
                                 c.out.data() + kv_head * group * kHeadDim);
    }
    benchmark::DoNotOptimize(c.out.data());
    layer = (layer + 1) % layers;
  }
  state.SetBytesProcessed(state.iterations() * 2 * kKvHeads * kContext * RowBytes(dtype, kHeadDim));
  static const char* kIsaNames[] = {"scalar", "avx2", "avx512"};
  state.SetLabel(std::string(Name(dtype)) + " " + kIsaNames[state.range(0)]);
}

// The floor: only reads the layer's K and V rows, in the kernels' order (a tile of K rows, then the
// tile's V rows), adding them up as bytes. Args: type index, layers.
void BM_ReadRowsOnly(benchmark::State& state) {
  const DType dtype = kTypes[state.range(0)];
  const int64_t layers = state.range(1);
  Cache c = MakeCache(dtype, layers);
  const uint64_t row_bytes = RowBytes(dtype, kHeadDim);
  int64_t layer = 0;
  uint64_t total = 0;
  for (auto _ : state) {
    for (int64_t kv_head = 0; kv_head < kKvHeads; ++kv_head) {
      const KvHeadView view = c.cache->HeadView(c.seq, layer, kv_head);
      for (int64_t tile = 0; tile < kContext; tile += 32) {
        for (const KvRun* run : {&view.keys, &view.values}) {
          for (int64_t p = tile; p < tile + 32; ++p) {
            const uint64_t* row = reinterpret_cast<const uint64_t*>(run->row(p));
            for (uint64_t i = 0; i < row_bytes / 8; ++i) total += row[i];
          }
        }
      }
    }
    benchmark::DoNotOptimize(total);
    layer = (layer + 1) % layers;
  }
  state.SetBytesProcessed(state.iterations() * 2 * kKvHeads * kContext * row_bytes);
  state.SetLabel(std::string(Name(dtype)));
}

// Reads the same number of bytes as BM_ReadRowsOnly, but contiguously from the pool.
void BM_ReadPoolSequential(benchmark::State& state) {
  const DType dtype = kTypes[state.range(0)];
  const int64_t layers = state.range(1);
  Cache c = MakeCache(dtype, layers);
  const uint64_t bytes = 2 * kKvHeads * kContext * RowBytes(dtype, kHeadDim);
  const KvHeadView view = c.cache->HeadView(c.seq, 0, 0);
  const uint64_t* pool = reinterpret_cast<const uint64_t*>(view.keys.pool);
  int64_t layer = 0;
  uint64_t total = 0;
  for (auto _ : state) {
    const uint64_t* p = pool + layer * bytes / 8;
    for (uint64_t i = 0; i < bytes / 8; ++i) total += p[i];
    benchmark::DoNotOptimize(total);
    layer = (layer + 1) % layers;
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_ReadPoolSequential)->Args({0, 16})->Args({0, 128})->Unit(benchmark::kMicrosecond);

// Decode attention as a decode step runs it, two threads splitting the four KV heads two and two
// (Model::Attention's split), against a plain two-thread read of another layer of the same pool,
// alternated every iteration so this VM's drifting bandwidth meets both alike. 24 layers (96 MiB
// at f32) are cycled, so both read from DRAM. Counters: attention_GBps, plain_GBps and their
// ratio, 1 when attention reads the cache as fast as a plain stream. Args: type index.
void BM_DecodeLayerVsPlainRead(benchmark::State& state) {
  const DType dtype = kTypes[state.range(0)];
  constexpr int64_t kLayers = 24;
  Cache c = MakeCache(dtype, kLayers);
  constexpr int64_t group = kQueryHeads / kKvHeads;
  const uint64_t layer_bytes = 2 * kKvHeads * kContext * RowBytes(dtype, kHeadDim);
  const uint8_t* pool = c.cache->HeadView(c.seq, 0, 0).keys.pool;
  ThreadPool threads(2);
  uint64_t sums[2] = {0, 0};
  double attention_seconds = 0, plain_seconds = 0;
  int64_t step = 0;
  for (auto _ : state) {
    const int64_t layer = step % kLayers, other = (step + kLayers / 2) % kLayers;
    ++step;
    const auto start = std::chrono::steady_clock::now();
    threads.ParallelFor(kKvHeads, [&](int64_t begin, int64_t end) {
      for (int64_t kv_head = begin; kv_head < end; ++kv_head) {
        AttendGroup(c.cache->HeadView(c.seq, layer, kv_head), 0, kContext,
                    c.q.data() + kv_head * group * kHeadDim, group,
                    c.out.data() + kv_head * group * kHeadDim);
      }
    });
    const auto middle = std::chrono::steady_clock::now();
    threads.ParallelFor(2, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const uint64_t* p = reinterpret_cast<const uint64_t*>(pool + other * layer_bytes);
        uint64_t total = 0;
        for (uint64_t i = t * layer_bytes / 16; i < (t + 1) * layer_bytes / 16; ++i) total += p[i];
        sums[t] += total;
      }
    });
    const auto finish = std::chrono::steady_clock::now();
    attention_seconds += std::chrono::duration<double>(middle - start).count();
    plain_seconds += std::chrono::duration<double>(finish - middle).count();
  }
  benchmark::DoNotOptimize(sums);
  benchmark::DoNotOptimize(c.out.data());
  const double bytes = double(layer_bytes) * double(step);
  state.counters["attention_GBps"] = bytes / attention_seconds / 1e9;
  state.counters["plain_GBps"] = bytes / plain_seconds / 1e9;
  state.counters["ratio"] = plain_seconds / attention_seconds;
  state.SetLabel(std::string(Name(dtype)));
}
BENCHMARK(BM_DecodeLayerVsPlainRead)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

// 1 layer reads from cache; 16 layers (64 MiB of f32 K/V) came from DRAM on the 32 MiB-L3 Zen 4
// of earlier sessions but stay in the L3 of a 480 MiB-L3 Xeon, where only 128 layers (512 MiB)
// read from DRAM as decode does.
void TypesAndLayers(benchmark::internal::Benchmark* b) {
  for (int64_t type : {0, 1}) {
    for (int64_t layers : {1, 16, 128}) b->Args({type, layers});
  }
}

BENCHMARK(BM_DecodeLayer<Kernel::kNewPerHead>)
    ->Apply(TypesAndLayers)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeLayer<Kernel::kGroup>)->Apply(TypesAndLayers)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeLayer<Kernel::kGroupsOfTwo>)
    ->Apply(TypesAndLayers)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeLayer<Kernel::kGroupsOfFour>)
    ->Apply(TypesAndLayers)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReadRowsOnly)->Apply(TypesAndLayers)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeLayerIsa)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2, 3, 4}, {1, 16}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace kvik
