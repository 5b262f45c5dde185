// AVX-512 (F + BW + VL) dot products, compiled with per-function target attributes so the binary
// still runs on CPUs without them (the dispatcher only selects these after checking CPUID and
// XCR0).
//
// Every kernel is a template over NT, the number of tokens (x vectors) it multiplies one weight row
// by. The weight block is loaded and converted once and reused for all NT tokens (prefill / batched
// decode), while each token keeps its own accumulators, updated by the same instructions in the
// same order as with NT = 1: so row · x_t is bit-identical whichever NT computed it (the engine's
// "prefill == decode" and "cache == recompute" guarantees rest on this).
// Only explicit FMA intrinsics and adds are used, never a separate mul feeding an add, so the
// compiler's FP contraction cannot change the rounding between instantiations.
#include <cpuid.h>
#include <immintrin.h>

// GCC 12's avx512fintrin.h seeds some conversions with a deliberately undefined vector
// (_mm512_undefined) and then warns about it at every use; the value is fully overwritten, so the
// warning is noise.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstring>

#include "tensor/dot_kernels.h"
#include "tensor/reduce_avx2.h"
#include "tensor/reduce_avx512.h"
#include "tensor/stream_prefetch.h"

#define KVIK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
// The per-token loops must be fully unrolled so each token's accumulators live in registers (GCC
// -O2 keeps them on the stack otherwise, which halves the speed).
#define KVIK_UNROLL _Pragma("GCC unroll 4")
// Keeps two loaded vectors in registers: without it GCC folds the load into every FMA that uses the
// value (a memory operand per FMA), which undoes the point of sharing one load across rows.
#define KVIK_IN_REGISTER(a, b) __asm__("" : "+v"(a), "+v"(b))

namespace kvik::kernels {
namespace {


enum class Plain { kF16, kBf16 };  // F32 computes in 8 lanes: DotF32RowsTokens

// 16 weights starting at element i, as f32 (elements past `mask` read as 0 and are never touched in
// memory, so the tail needs no scalar loop).
template <Plain P>
KVIK_AVX512 inline __m512 LoadWeights(const uint8_t* row, int64_t i, __mmask16 mask) {
  if constexpr (P == Plain::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
  } else {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
}

// Two accumulators per token: lanes 0-15 of each 32-element chunk go to acc0, 16-31 to acc1; a
// 16-element remainder goes to acc0, the final partial chunk (masked) to acc1. Each chunk is one
// 64-byte line of the row, requested kPrefetchAheadBytes ahead when kP says so.
template <Plain P, Prefetch kP, int NT>
KVIK_AVX512 void DotPlainTokens(const uint8_t* row, const float* x, int64_t x_stride, int64_t n,
                                float* out, int64_t out_stride) {
  constexpr __mmask16 kAll = 0xffff;
  __m512 acc0[NT], acc1[NT];
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    PrefetchAhead<kP>(row + 2 * i);
    const __m512 w0 = LoadWeights<P>(row, i, kAll);
    const __m512 w1 = LoadWeights<P>(row, i + 16, kAll);
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      const float* xt = x + t * x_stride + i;
      acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xt), acc0[t]);
      acc1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), acc1[t]);
    }
  }
  if (i + 16 <= n) {
    const __m512 w = LoadWeights<P>(row, i, kAll);
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      acc0[t] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + t * x_stride + i), acc0[t]);
    }
    i += 16;
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 w = LoadWeights<P>(row, i, mask);
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      acc1[t] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask, x + t * x_stride + i), acc1[t]);
    }
  }
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = ReduceAdd(_mm512_add_ps(acc0[t], acc1[t]));
}

// DotPlainTokens for NR rows at once (prefill): every (row, token) pair keeps its own accumulators,
// updated by the instructions DotPlainTokens uses for one token, in the same order, so each result
// is bit-identical to the one-row kernel; the NR rows share each load of x, which halves the loads
// per FMA (the one-row kernel is load-bound: two loads per two FMAs per token).
template <Plain P, int NR, int NT>
KVIK_AVX512 void DotPlainRowsTokens(const uint8_t* rows, int64_t row_bytes, const float* x,
                                    int64_t x_stride, int64_t n, float* out, int64_t out_stride) {
  constexpr __mmask16 kAll = 0xffff;
  __m512 acc0[NR][NT], acc1[NR][NT];
  KVIK_UNROLL
  for (int r = 0; r < NR; ++r) {
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) acc0[r][t] = acc1[r][t] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 w0[NR], w1[NR];
    KVIK_UNROLL
    for (int r = 0; r < NR; ++r) {
      w0[r] = LoadWeights<P>(rows + r * row_bytes, i, kAll);
      w1[r] = LoadWeights<P>(rows + r * row_bytes, i + 16, kAll);
    }
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      __m512 x0 = _mm512_loadu_ps(x + t * x_stride + i);
      __m512 x1 = _mm512_loadu_ps(x + t * x_stride + i + 16);
      KVIK_IN_REGISTER(x0, x1);
      KVIK_UNROLL
      for (int r = 0; r < NR; ++r) {
        acc0[r][t] = _mm512_fmadd_ps(w0[r], x0, acc0[r][t]);
        acc1[r][t] = _mm512_fmadd_ps(w1[r], x1, acc1[r][t]);
      }
    }
  }
  if (i + 16 <= n) {
    KVIK_UNROLL
    for (int r = 0; r < NR; ++r) {
      const __m512 w = LoadWeights<P>(rows + r * row_bytes, i, kAll);
      KVIK_UNROLL
      for (int t = 0; t < NT; ++t) {
        acc0[r][t] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + t * x_stride + i), acc0[r][t]);
      }
    }
    i += 16;
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    KVIK_UNROLL
    for (int r = 0; r < NR; ++r) {
      const __m512 w = LoadWeights<P>(rows + r * row_bytes, i, mask);
      KVIK_UNROLL
      for (int t = 0; t < NT; ++t) {
        acc1[r][t] =
            _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask, x + t * x_stride + i), acc1[r][t]);
      }
    }
  }
  KVIK_UNROLL
  for (int r = 0; r < NR; ++r) {
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      out[t * out_stride + r] = ReduceAdd(_mm512_add_ps(acc0[r][t], acc1[r][t]));
    }
  }
}

// F32 on AVX-512 machines computes in 8-lane vectors: 512-bit loads streamed F32 rows 5-15% slower
// on the AMD Zen 4 this was measured on (kvik bench -t 1 tg32, models/small-f32.gguf), and 17%
// slower on an Intel Xeon too (tg128, 2 threads, with the weight prefetch), so decode uses the AVX2
// kernels. This is their rows-and-tokens blocking for prefill, with the AVX2 kernel's arithmetic in
// 512-bit registers: the AVX2 kernel's two accumulators (acc0 takes elements 0-7 of every 16, acc1
// 8-15; a remaining full 8 goes to acc0 and the partial 8 to acc1) are the low and high halves of
// one, so each lane runs the same FMAs in the same order, and the final acc0 + acc1 and horizontal
// sum are the same too. On a CPU with two 512-bit FMA units (that Xeon) a 512-bit FMA does twice
// the work of a 256-bit one: small-f32 pp512 went from 1010-1018 to 1350-1413 tok/s (with the 4
// rows a call of F32RowsTokens below).
//
// Lanes not in `mask` read no memory and keep their sums: with kToHigh, 8 elements from `first` go
// to lanes 8-15 (acc1's), where the AVX2 kernel adds its last partial 8.
template <bool kToHigh>
KVIK_AVX512 __attribute__((always_inline)) inline __m512 LoadF32Lanes(const float* p,
                                                                      __mmask16 mask) {
  if constexpr (kToHigh) {
    const __m256 low = _mm256_maskz_loadu_ps(static_cast<__mmask8>(mask >> 8), p);
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_setzero_pd(), _mm256_castps_pd(low), 1));
  } else {
    return _mm512_maskz_loadu_ps(mask, p);
  }
}

template <bool kToHigh, int NR, int NT>
KVIK_AVX512 __attribute__((always_inline)) inline void F32Step(
    const uint8_t* rows, int64_t row_bytes, const float* x, int64_t x_stride, int64_t first,
    __mmask16 mask, __m512 (&acc)[NR][NT]) {
  __m512 w[NR];
  KVIK_UNROLL
  for (int r = 0; r < NR; ++r) {
    const float* row = reinterpret_cast<const float*>(rows + r * row_bytes);
    w[r] = LoadF32Lanes<kToHigh>(row + first, mask);
  }
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) {
    const __m512 xt = LoadF32Lanes<kToHigh>(x + t * x_stride + first, mask);
    KVIK_UNROLL
    for (int r = 0; r < NR; ++r) acc[r][t] = _mm512_mask3_fmadd_ps(w[r], xt, acc[r][t], mask);
  }
}

template <int NR, int NT>
KVIK_AVX512 void DotF32RowsTokens(const uint8_t* rows, int64_t row_bytes, const float* x,
                                  int64_t x_stride, int64_t n, float* out, int64_t out_stride) {
  __m512 acc[NR][NT];
  KVIK_UNROLL
  for (int r = 0; r < NR; ++r) {
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) F32Step<false>(rows, row_bytes, x, x_stride, i, 0xffff, acc);
  if (i + 8 <= n) {  // acc0's lanes
    F32Step<false>(rows, row_bytes, x, x_stride, i, 0x00ff, acc);
    i += 8;
  }
  if (i < n) {
    const auto high = static_cast<__mmask16>(((1u << (n - i)) - 1) << 8);
    F32Step<true>(rows, row_bytes, x, x_stride, i, high, acc);
  }
  KVIK_UNROLL
  for (int r = 0; r < NR; ++r) {
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      const __m256 acc0 = _mm512_castps512_ps256(acc[r][t]);
      const __m256 acc1 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][t]), 1));
      out[t * out_stride + r] = HorizontalSum(_mm256_add_ps(acc0, acc1));
    }
  }
}

// The one-token DotFn: the NT = 1 instantiation itself, so DotRow and MatMul share every
// instruction.
template <DotTokensFn Kernel>
KVIK_AVX512 float DotOne(const uint8_t* row, const float* x, int64_t n) {
  float out;
  Kernel(row, x, /*x_stride=*/0, n, &out, /*out_stride=*/0);
  return out;
}

template <Plain P>
KVIK_TOKEN_TABLE(PlainRowsTokens, DotRowsTokensFn, DotPlainRowsTokens, P, kRowsPerKernel)
// One 512-bit accumulator per (row, token): 4 rows × 4 tokens keep 16 FMA chains going and load
// each x vector once per 4 rows (small-f32 pp512 1100-1140 tok/s with 2 rows, 1320 with 4).
constexpr int kF32RowsPerKernel = 4;
KVIK_TOKEN_TABLE(F32RowsTokens, DotRowsTokensFn, DotF32RowsTokens, kF32RowsPerKernel)

template <Plain P, Prefetch kP>
KVIK_TOKEN_TABLE(PlainTokens, DotTokensFn, DotPlainTokens, P, kP)

// Prefill's rows-and-tokens kernels read each tile from cache after its first token group, so only
// the streaming ones take the prefetch.
template <Plain P, Prefetch kP>
KernelSet PlainKernels() {
  return {DotOne<DotPlainTokens<P, kP, 1>>, PlainTokens<P, kP>, PlainRowsTokens<P>};
}

template <Plain P>
KernelSet PlainKernels(Prefetch prefetch) {
  return prefetch == Prefetch::kAhead ? PlainKernels<P, Prefetch::kAhead>()
                                      : PlainKernels<P, Prefetch::kOff>();
}

}  // namespace

bool CpuHasAvx512() {
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && CpuHasAvx2())) {
    return false;
  }
  // The OS must save the opmask and upper ZMM state (XCR0 bits 5-7) besides SSE/AVX (bits 1-2).
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return false;  // OSXSAVE
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  return (xcr0_lo & 0xe6) == 0xe6;
}

KernelSet Avx512Kernels(DType type, Prefetch prefetch) {
  if (!CpuHasAvx512()) return {};
  switch (type) {
    case DType::kF32: {
      // 8-lane arithmetic; see DotF32RowsTokens.
      KernelSet set = Avx2Kernels(DType::kF32, prefetch);
      set.dot_rows_tokens = F32RowsTokens;
      set.rows_per_kernel = kF32RowsPerKernel;
      return set;
    }
    case DType::kF16:
      return PlainKernels<Plain::kF16>(prefetch);
    case DType::kBF16:
      return PlainKernels<Plain::kBf16>(prefetch);
    case DType::kQ8_0:
      return Avx512Q8_0Kernels(prefetch);
    case DType::kQ4_0:
      return Avx512Q4_0Kernels(prefetch);
    default:
      return {};
  }
}

}  // namespace kvik::kernels
