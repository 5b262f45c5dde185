// AVX2 + FMA (+F16C) dot products, compiled with per-function target attributes so the binary still
// runs on CPUs without them (the dispatcher only selects these after checking CPUID).
//
// Like the AVX-512 file, each kernel is a template over NT, the number of tokens sharing one load
// and conversion of the weights; every token's accumulators see the same instructions in the same
// order for any NT, so a batched result is bit-identical to the one-token DotRow. Only explicit FMA
// intrinsics and adds feed the accumulators (no mul + add pair the compiler could contract).
#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#include "tensor/dot_kernels.h"
#include "tensor/reduce_avx2.h"
#include "tensor/stream_prefetch.h"

#define KVIK_AVX2 __attribute__((target("avx2,fma,f16c")))
// Per-token loops fully unrolled, so accumulators stay in registers.
#define KVIK_UNROLL _Pragma("GCC unroll 4")

namespace kvik::kernels {
namespace {

// Lanes [0, count) set: a maskload mask for the final partial group of 8.
KVIK_AVX2 inline __m256i TailMask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

enum class Plain { kF32, kF16, kBf16 };

// 8 weights from `p` (already bounded: the caller pads partial groups) as f32.
template <Plain P>
KVIK_AVX2 inline __m256 Load8(const uint8_t* p) {
  if constexpr (P == Plain::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else if constexpr (P == Plain::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
}

template <Plain P>
constexpr int64_t kElementBytes = P == Plain::kF32 ? 4 : 2;

// Two accumulators per token: elements 0-7 of each 16 go to acc0, 8-15 to acc1; a remaining full 8
// to acc0 and the final partial 8 (zero-padded weights, masked x) to acc1. With kP, every 64-byte
// line of the row is requested kPrefetchAheadBytes ahead as the loop reaches it.
template <Plain P, Prefetch kP, int NT>
KVIK_AVX2 void DotPlainTokens(const uint8_t* row, const float* x, int64_t x_stride, int64_t n,
                              float* out, int64_t out_stride) {
  constexpr int64_t kBytes = kElementBytes<P>;
  __m256 acc0[NT], acc1[NT];
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  int64_t i = 0;
  // Two chunks per trip keep more loads in flight when rows stream from memory (same arithmetic).
  _Pragma("GCC unroll 2")
  for (; i + 16 <= n; i += 16) {
    // 16 elements are a whole line of f32, half a line of f16/bf16.
    if (kBytes == 4 || i % 32 == 0) PrefetchAhead<kP>(row + i * kBytes);
    const __m256 w0 = Load8<P>(row + i * kBytes);
    const __m256 w1 = Load8<P>(row + (i + 8) * kBytes);
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      const float* xt = x + t * x_stride + i;
      acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + 8), acc1[t]);
    }
  }
  if (i + 8 <= n) {
    const __m256 w = Load8<P>(row + i * kBytes);
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      acc0[t] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + t * x_stride + i), acc0[t]);
    }
    i += 8;
  }
  if (i < n) {
    alignas(32) uint8_t padded[32] = {};
    std::memcpy(padded, row + i * kBytes, (n - i) * kBytes);
    const __m256 w = Load8<P>(padded);
    const __m256i mask = TailMask(n - i);
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      acc1[t] = _mm256_fmadd_ps(w, _mm256_maskload_ps(x + t * x_stride + i, mask), acc1[t]);
    }
  }
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = HorizontalSum(_mm256_add_ps(acc0[t], acc1[t]));
}

// The one-token DotFn: the NT = 1 instantiation itself.
template <DotTokensFn Kernel>
KVIK_AVX2 float DotOne(const uint8_t* row, const float* x, int64_t n) {
  float out;
  Kernel(row, x, /*x_stride=*/0, n, &out, /*out_stride=*/0);
  return out;
}

template <Plain P, Prefetch kP>
KVIK_TOKEN_TABLE(PlainTokens, DotTokensFn, DotPlainTokens, P, kP)

template <Plain P, Prefetch kP>
KernelSet PlainKernels() {
  return {DotOne<DotPlainTokens<P, kP, 1>>, PlainTokens<P, kP>};
}

template <Plain P>
KernelSet PlainKernels(Prefetch prefetch) {
  return prefetch == Prefetch::kAhead ? PlainKernels<P, Prefetch::kAhead>()
                                      : PlainKernels<P, Prefetch::kOff>();
}

}  // namespace

bool CpuHasAvx2() {
  __builtin_cpu_init();
  // F16C is CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
  return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

KernelSet Avx2Kernels(DType type, Prefetch prefetch) {
  if (!CpuHasAvx2()) return {};
  switch (type) {
    case DType::kF32:
      return PlainKernels<Plain::kF32>(prefetch);
    case DType::kF16:
      return PlainKernels<Plain::kF16>(prefetch);
    case DType::kBF16:
      return PlainKernels<Plain::kBf16>(prefetch);
    case DType::kQ8_0:
      return Avx2Q8_0Kernels(prefetch);
    case DType::kQ4_0:
      return Avx2Q4_0Kernels(prefetch);
    default:
      return {};
  }
}

}  // namespace kvik::kernels
