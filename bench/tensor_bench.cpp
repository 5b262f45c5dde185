// Micro-benchmarks of the tensor kernels: DotRow, MatVec and MatMul per weight type, RmsNorm,
// Softmax, SwiGLU. Counters: bytes_per_second = weight (+ activation) bytes read; FLOP/s = 2 per
// multiply-add. The ISA is the one kvik selects; compare ISAs with KVIK_ISA=avx2|scalar, e.g.
//   KVIK_ISA=avx2 build/tensor_bench --benchmark_filter=MatVec
#include <benchmark/benchmark.h>

#include <immintrin.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

constexpr DType kTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0};

std::vector<float> RandomFloats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> Matrix(DType type, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(RowBytes(type, cols) * rows);
  const auto row = RandomFloats(cols, 1);  // one row repeated: contents do not change the speed
  for (int64_t r = 0; r < rows; ++r)
    QuantizeRow(type, row.data(), cols, out.data() + r * RowBytes(type, cols));
  return out;
}

// A matrix as the model holds it: Q4_0 interleaved in groups of 16 rows (InterleaveRows), unless
// `row_major` asks for the file's layout.
struct Weights {
  std::vector<uint8_t> row_major;
  std::unique_ptr<uint8_t, void (*)(void*)> interleaved{nullptr, std::free};
  MatrixView view;
  int64_t bytes = 0;
};

Weights MatrixWeights(DType type, int64_t rows, int64_t cols, bool row_major = false) {
  Weights w;
  w.row_major = Matrix(type, rows, cols);
  w.view = {type, rows, cols, w.row_major.data()};
  w.bytes = static_cast<int64_t>(w.row_major.size());
  if (const int64_t bytes = InterleavedBytes(w.view); bytes > 0 && !row_major) {
    w.interleaved.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
    w.view = InterleaveRows(w.view, w.interleaved.get());
  }
  return w;
}

void SetLabel(benchmark::State& state, DType type) {
  state.SetLabel(std::string(Name(type)) + " " + std::string(KernelIsa()));
}

void SetRates(benchmark::State& state, int64_t bytes, double flops) {
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
}

// Args: type index, n.
void BM_DotRow(benchmark::State& state) {
  const DType type = kTypes[state.range(0)];
  const int64_t n = state.range(1);
  const auto row = Matrix(type, 1, n);
  const auto x = RandomFloats(n, 2);
  for (auto _ : state) benchmark::DoNotOptimize(DotRow(type, row.data(), x.data(), n));
  SetRates(state, RowBytes(type, n) + 4 * n, 2.0 * n);
  SetLabel(state, type);
}

// Args: type index, rows, cols, threads.
void BM_MatVec(benchmark::State& state) {
  const DType type = kTypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2);
  const Weights w = MatrixWeights(type, rows, cols);
  const auto x = RandomFloats(cols, 3);
  std::vector<float> y(rows);
  ThreadPool pool(static_cast<int>(state.range(3)));
  for (auto _ : state) {
    MatVec(w.view, x.data(), y.data(), &pool);
    benchmark::ClobberMemory();
  }
  SetRates(state, w.bytes, 2.0 * rows * cols);
  SetLabel(state, type);
}

// Args: type index, rows, cols, tokens, threads, blocked (1: token-batched kernels; 0: one DotRow
// per (row, token) with the same ISA — the gain of register blocking; for Q4_0, row-major rows,
// which take the scalar kernel — the gain of interleaving).
void BM_MatMul(benchmark::State& state) {
  const DType type = kTypes[state.range(0)];
  const int64_t rows = state.range(1), cols = state.range(2), tokens = state.range(3);
  const bool blocked = state.range(5) != 0;
  const Weights w = MatrixWeights(type, rows, cols, /*row_major=*/!blocked);
  const auto x = RandomFloats(tokens * cols, 4);
  std::vector<float> y(tokens * rows);
  ThreadPool pool(static_cast<int>(state.range(4)));
  kernels::KernelSet set =
      kernels::KernelsFor(kernels::SelectedIsa(), type, kernels::SelectedPrefetch());
  if (!blocked) set.dot_tokens = nullptr, set.dot_rows_tokens = nullptr;
  for (auto _ : state) {
    kernels::MatMulWith(set, w.view, x.data(), tokens, y.data(), &pool);
    benchmark::ClobberMemory();
  }
  SetRates(state, w.bytes + 4 * tokens * cols, 2.0 * rows * cols * tokens);
  SetLabel(state, type);
  if (state.range(5) == 0)
    state.SetLabel(std::string(Name(type)) + " " + std::string(KernelIsa()) + " unblocked");
}

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = RandomFloats(n, 5), weight = RandomFloats(n, 6);
  std::vector<float> out(n);
  for (auto _ : state) {
    RmsNorm(out.data(), x.data(), weight.data(), n, 1e-5f);
    benchmark::ClobberMemory();
  }
  SetRates(state, 12 * n, 4.0 * n);
}

void BM_Softmax(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto source = RandomFloats(n, 7);
  auto x = source;
  for (auto _ : state) {
    x = source;
    SoftmaxInPlace(x.data(), n);
    benchmark::ClobberMemory();
  }
  SetRates(state, 8 * n, 4.0 * n);
}

void BM_SwiGlu(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto source = RandomFloats(n, 8), up = RandomFloats(n, 9);
  auto gate = source;
  for (auto _ : state) {
    gate = source;
    SwiGluInPlace(gate.data(), up.data(), n);
    benchmark::ClobberMemory();
  }
  SetRates(state, 12 * n, 5.0 * n);
}

void DotArgs(benchmark::internal::Benchmark* b) {
  for (int type = 0; type < 5; ++type) b->Args({type, 4096});
}

void MatVecArgs(benchmark::internal::Benchmark* b) {
  for (int type = 0; type < 5; ++type)
    for (int64_t rows : {768, 2048, 32000})
      for (int threads : {1, 2}) b->Args({type, rows, 768, threads});
}

void MatMulArgs(benchmark::internal::Benchmark* b) {
  for (int type = 0; type < 5; ++type) {
    for (int64_t rows : {768, 2048, 32000}) {
      for (int threads : {1, 2})
        for (int blocked : {1, 0}) b->Args({type, rows, 768, 64, threads, blocked});
    }
    // Prefill shapes of the small model at 512 tokens: FFN up (4096 x 768) and down (768 x 4096).
    b->Args({type, 4096, 768, 512, 1, 1});
    b->Args({type, 768, 4096, 512, 1, 1});
  }
}

// The machine's FMA ceiling, per thread: independent chains of fused multiply-adds on registers
// only (no memory traffic), 12 accumulators to cover the FMA latency. Prefill efficiency in
// docs/performance.md is quoted against this number × threads.
__attribute__((target("avx2,fma"), noinline)) float FmaAvx2(int64_t n, float seed) {
  __m256 acc[12];
  for (int c = 0; c < 12; ++c) acc[c] = _mm256_set1_ps(seed + c);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < 12; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < 12; ++c) sum = _mm256_add_ps(sum, acc[c]);
  return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx512f,fma"), noinline)) float FmaAvx512(int64_t n, float seed) {
  __m512 acc[12];
  for (int c = 0; c < 12; ++c) acc[c] = _mm512_set1_ps(seed + c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < 12; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < 12; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}

void BM_PeakFma(benchmark::State& state) {
  const bool wide = state.range(0) == 512;
  if (wide && !kernels::CpuHasAvx512()) return state.SkipWithError("no AVX-512");
  if (!wide && !kernels::CpuHasAvx2()) return state.SkipWithError("no AVX2");
  constexpr int64_t kIterations = 1 << 16;
  float sink = 0;
  for (auto _ : state) {
    sink += wide ? FmaAvx512(kIterations, sink) : FmaAvx2(kIterations, sink);
    benchmark::DoNotOptimize(sink);
  }
  const double flops = 2.0 * 12 * (wide ? 16 : 8) * kIterations;
  state.counters["FLOP/s"] = benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_PeakFma)->Arg(256)->Arg(512)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_DotRow)->Apply(DotArgs);
BENCHMARK(BM_MatVec)->Apply(MatVecArgs)->UseRealTime();
BENCHMARK(BM_MatMul)->Apply(MatMulArgs)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RmsNorm)->Arg(768)->Arg(4096);
BENCHMARK(BM_Softmax)->Arg(256)->Arg(2048);
BENCHMARK(BM_SwiGlu)->Arg(2048)->Arg(8192);

}  // namespace
}  // namespace kvik
