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
#include "tensor/reduce_avx512.h"

#define KVIK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
// The per-token loops must be fully unrolled so each token's accumulators live in registers (GCC
// -O2 keeps them on the stack otherwise, which halves the speed).
#define KVIK_UNROLL _Pragma("GCC unroll 4")

namespace kvik::kernels {
namespace {


enum class Plain { kF32, kF16, kBf16 };

// 16 weights starting at element i, as f32 (elements past `mask` read as 0 and are never touched in
// memory, so the tail needs no scalar loop).
template <Plain P>
KVIK_AVX512 inline __m512 LoadWeights(const uint8_t* row, int64_t i, __mmask16 mask) {
  if constexpr (P == Plain::kF32) {
    return _mm512_maskz_loadu_ps(mask, reinterpret_cast<const float*>(row) + i);
  } else if constexpr (P == Plain::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
  } else {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
}

// Two accumulators per token: lanes 0-15 of each 32-element chunk go to acc0, 16-31 to acc1; a
// 16-element remainder goes to acc0, the final partial chunk (masked) to acc1.
template <Plain P, int NT>
KVIK_AVX512 void DotPlainTokens(const uint8_t* row, const float* x, int64_t x_stride, int64_t n,
                                float* out, int64_t out_stride) {
  constexpr __mmask16 kAll = 0xffff;
  __m512 acc0[NT], acc1[NT];
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
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

KVIK_AVX512 inline __m512 BlockScale(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return _mm512_set1_ps(_cvtsh_ss(h));
}

// Elements 0-15 and 16-31 of a Q8_0 block {f16 d; i8 q[32]} as f32.
KVIK_AVX512 inline void LoadQ8_0(const uint8_t* block, __m512& w0, __m512& w1) {
  const __m128i* q = reinterpret_cast<const __m128i*>(block + 2);
  w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q)));
  w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1)));
}

// Block b of the row against block b of each token: s = w0·x0 + w1·x1 (16 lanes), acc_t += d · s.
template <int NT>
KVIK_AVX512 inline void Q8_0BlockStep(const uint8_t* row, const float* x, int64_t x_stride,
                                       int64_t b, __m512* acc) {
  const uint8_t* block = row + b * 34;
  __m512 w0, w1;
  LoadQ8_0(block, w0, w1);
  const __m512 d = BlockScale(block);
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) {
    const float* xt = x + t * x_stride + b * 32;
    __m512 s = _mm512_mul_ps(w0, _mm512_loadu_ps(xt));
    s = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), s);
    acc[t] = _mm512_fmadd_ps(d, s, acc[t]);
  }
}

// Per block: s = w0·x0 + w1·x1 (elementwise, 16 lanes), acc += d · s. Even blocks accumulate into
// acc0, odd ones into acc1, so two scale FMAs are in flight; n is a multiple of 32.
template <int NT>
KVIK_AVX512 void DotQ8_0Tokens(const uint8_t* row, const float* x, int64_t x_stride, int64_t n,
                                float* out, int64_t out_stride) {
  __m512 acc[2][NT];
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm512_setzero_ps();
  const int64_t n_blocks = n / 32;
  int64_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    Q8_0BlockStep<NT>(row, x, x_stride, b, acc[0]);
    Q8_0BlockStep<NT>(row, x, x_stride, b + 1, acc[1]);
  }
  if (b < n_blocks) Q8_0BlockStep<NT>(row, x, x_stride, b, acc[0]);
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) out[t * out_stride] = ReduceAdd(_mm512_add_ps(acc[0][t], acc[1][t]));
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
DotTokensFn PlainTokens(int n_tokens) {
  switch (n_tokens) {
    case 1:
      return DotPlainTokens<P, 1>;
    case 2:
      return DotPlainTokens<P, 2>;
    case 3:
      return DotPlainTokens<P, 3>;
    default:
      return DotPlainTokens<P, 4>;
  }
}

DotTokensFn Q8_0Tokens(int n_tokens) {
  switch (n_tokens) {
    case 1:
      return DotQ8_0Tokens<1>;
    case 2:
      return DotQ8_0Tokens<2>;
    case 3:
      return DotQ8_0Tokens<3>;
    default:
      return DotQ8_0Tokens<4>;
  }
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

KernelSet Avx512Kernels(DType type) {
  if (!CpuHasAvx512()) return {};
  switch (type) {
    case DType::kF32:
      return {DotOne<DotPlainTokens<Plain::kF32, 1>>, PlainTokens<Plain::kF32>};
    case DType::kF16:
      return {DotOne<DotPlainTokens<Plain::kF16, 1>>, PlainTokens<Plain::kF16>};
    case DType::kBF16:
      return {DotOne<DotPlainTokens<Plain::kBf16, 1>>, PlainTokens<Plain::kBf16>};
    case DType::kQ8_0:
      return {DotOne<DotQ8_0Tokens<1>>, Q8_0Tokens};
    case DType::kQ4_0:
      return Avx512Q4_0Kernels();
    default:
      return {};
  }
}

}  // namespace kvik::kernels
