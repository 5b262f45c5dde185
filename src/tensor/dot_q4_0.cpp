// Q4_0 weights times 8-bit activations, in integers.
//
// Like llama.cpp's q4_0 × q8_0, each 32-element block of x is rounded once per matrix to int8 with
// one f32 scale (Q8Act, q8_activations.cpp), and a block's dot product is an exact integer sum:
// S = Σ (w − 8) · q = Σ w · q + bias, with bias = −8 · Σ q precomputed, so unsigned × signed
// multiply-adds (VNNI vpdpbusd, or AVX2 vpmaddubsw + vpmaddwd) give it with no correction after.
// Only the scaling is floating point, one block after another:
//
//   acc = fma(float(S_b) · d_w, d_a, acc)   for b = 0, 1, …
//
// |S| ≤ 32 · 8 · 127 < 2^24, so float(S) is exact, and every kernel — the scalar reference on a
// row-major row, and the scalar, AVX2 and AVX-512 VNNI kernels on 16 interleaved rows
// (interleaved_layout.h) — runs these same float operations per (row, token), so all of them give
// the same bits, for any layout, thread count or number of tokens per call.
//
// The SIMD kernels read only the interleaved layout: there a block of 16 rows is 4 aligned 64-byte
// loads, 8 multiply-adds into 16 row lanes, one scale conversion and one FMA, instead of 16 rows'
// worth of per-block scale broadcasts and horizontal sums. Row-major rows (DotRow, and the last
// rows of a matrix whose row count is not a multiple of 16) take the scalar kernel.
#include <immintrin.h>

#include "tensor/dot_kernels.h"
#include "tensor/integer_dot.h"
#include "tensor/interleaved_layout.h"

// GCC 12's avx512fintrin.h seeds some conversions with a deliberately undefined vector and then
// warns about it at every use (as in dot_avx512.cpp); the value is fully overwritten.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define KVIK_Q4_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KVIK_Q4_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define KVIK_UNROLL _Pragma("GCC unroll 8")

namespace kvik::kernels {
namespace {

using integer_dot::CpuHasAvx512Vnni;
using integer_dot::PrefetchBlockAhead;
using integer_dot::Quad;
using interleaved::kGroupRows;
constexpr const interleaved::Format& kFormat = interleaved::kQ4_0;

// ---- Scalar reference, row-major rows ----

int32_t RowBlockSum(const uint8_t* quants, const Q8Act& a) {
  int32_t sum = a.bias;
  for (int m = 0; m < 16; ++m) sum += (quants[m] & 0x0f) * a.q[m] + (quants[m] >> 4) * a.q[m + 16];
  return sum;
}

// ---- Scalar reference, interleaved groups ----

// Row i's block sum: chunk j's bytes 4i..4i+3 are the row's quant bytes 4j..4j+3.
int32_t GroupBlockSum(const uint8_t* quants, int i, const Q8Act& a) {
  int32_t sum = a.bias;
  for (int j = 0; j < 4; ++j) {
    for (int k = 0; k < 4; ++k) {
      const uint8_t byte = quants[64 * j + 4 * i + k];
      sum += (byte & 0x0f) * a.q[4 * j + k] + (byte >> 4) * a.q[16 + 4 * j + k];
    }
  }
  return sum;
}

// ---- AVX2: two halves of 8 rows, vpmaddubsw + vpmaddwd ----

template <Prefetch kP, int NT>
KVIK_Q4_AVX2 void GroupAvx2Tokens(const uint8_t* group, const Q8Act* x, int64_t x_stride, int64_t n,
                                  float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256 acc[2][NT];
  KVIK_UNROLL
  for (int h = 0; h < 2; ++h) {
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) acc[h][t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* quants = interleaved::GroupQuants(kFormat, group, b);
    const uint8_t* scales = interleaved::GroupScales(kFormat, group, b);
    PrefetchBlockAhead<kP>(scales, quants, interleaved::GroupQuantBytes(kFormat), b);
    KVIK_UNROLL
    for (int h = 0; h < 2; ++h) {
      // Chunk j's bytes for rows 8h … 8h+7: low nibbles pair with activations 4j…, high with
      // 16+4j….
      __m256i w[8];
      KVIK_UNROLL
      for (int j = 0; j < 4; ++j) {
        const __m256i v =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(quants + 64 * j + 32 * h));
        w[2 * j] = _mm256_and_si256(v, low);
        w[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
      }
      const __m256 d_w =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * h)));
      KVIK_UNROLL
      for (int t = 0; t < NT; ++t) {
        const Q8Act& a = x[t * x_stride + b];
        // Each pair sum is at most 2 · 15 · 127, so 8 of them fit an int16 exactly.
        __m256i pairs = _mm256_setzero_si256();
        KVIK_UNROLL
        for (int j = 0; j < 4; ++j) {
          pairs = _mm256_add_epi16(pairs,
                                   _mm256_maddubs_epi16(w[2 * j], _mm256_set1_epi32(Quad(a.q, j))));
          pairs = _mm256_add_epi16(
              pairs, _mm256_maddubs_epi16(w[2 * j + 1], _mm256_set1_epi32(Quad(a.q, 4 + j))));
        }
        const __m256i sums = _mm256_add_epi32(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)),
                                              _mm256_set1_epi32(a.bias));
        acc[h][t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sums), d_w),
                                    _mm256_set1_ps(a.d), acc[h][t]);
      }
    }
  }
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) {
    _mm256_storeu_ps(out + t * out_stride, acc[0][t]);
    _mm256_storeu_ps(out + t * out_stride + 8, acc[1][t]);
  }
}

// ---- AVX-512 VNNI: all 16 rows in one vector, vpdpbusd with broadcast activations ----

template <Prefetch kP, int NT>
KVIK_Q4_VNNI void GroupVnniTokens(const uint8_t* group, const Q8Act* x, int64_t x_stride, int64_t n,
                                  float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  const __m512i low = _mm512_set1_epi8(0x0f);
  __m512 acc[NT];
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* quants = interleaved::GroupQuants(kFormat, group, b);
    PrefetchBlockAhead<kP>(interleaved::GroupScales(kFormat, group, b), quants,
                           interleaved::GroupQuantBytes(kFormat), b);
    __m512i w[8];
    KVIK_UNROLL
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_load_si512(quants + 64 * j);
      w[2 * j] = _mm512_and_si512(v, low);
      w[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    }
    const __m512 d_w = _mm512_cvtph_ps(_mm256_load_si256(
        reinterpret_cast<const __m256i*>(interleaved::GroupScales(kFormat, group, b))));
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      const Q8Act& a = x[t * x_stride + b];
      // Four independent chains hide vpdpbusd's latency; integer sums are exact in any order.
      __m512i s0 =
          _mm512_dpbusd_epi32(_mm512_set1_epi32(a.bias), w[0], _mm512_set1_epi32(Quad(a.q, 0)));
      __m512i s1 =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], _mm512_set1_epi32(Quad(a.q, 4)));
      __m512i s2 =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[2], _mm512_set1_epi32(Quad(a.q, 1)));
      __m512i s3 =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[3], _mm512_set1_epi32(Quad(a.q, 5)));
      s0 = _mm512_dpbusd_epi32(s0, w[4], _mm512_set1_epi32(Quad(a.q, 2)));
      s1 = _mm512_dpbusd_epi32(s1, w[5], _mm512_set1_epi32(Quad(a.q, 6)));
      s2 = _mm512_dpbusd_epi32(s2, w[6], _mm512_set1_epi32(Quad(a.q, 3)));
      s3 = _mm512_dpbusd_epi32(s3, w[7], _mm512_set1_epi32(Quad(a.q, 7)));
      const __m512i sums = _mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3));
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sums), d_w), _mm512_set1_ps(a.d),
                               acc[t]);
    }
  }
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * out_stride, acc[t]);
}

KVIK_TOKEN_TABLE(ScalarTokens, DotQ8TokensFn, integer_dot::RowScalarTokens, kFormat, RowBlockSum,
                 1.0f)
KVIK_TOKEN_TABLE(ScalarGroupTokens, DotQ8GroupTokensFn, integer_dot::GroupScalarTokens, kFormat,
                 GroupBlockSum, 1.0f)
template <Prefetch kP>
KVIK_TOKEN_TABLE(Avx2GroupTokens, DotQ8GroupTokensFn, GroupAvx2Tokens, kP)
template <Prefetch kP>
KVIK_TOKEN_TABLE(VnniGroupTokens, DotQ8GroupTokensFn, GroupVnniTokens, kP)

// DotRow and the kernel sets (integer_dot.h): row-major rows take the scalar reference.
using Kernels =
    integer_dot::IntegerKernels<integer_dot::RowScalarTokens<kFormat, RowBlockSum, 1.0f, 1>>;

}  // namespace

KernelSet ScalarQ4_0Kernels() { return Kernels::Set(ScalarTokens, ScalarGroupTokens); }

KernelSet Avx2Q4_0Kernels(Prefetch prefetch) {
  if (!CpuHasAvx2()) return {};
  return Kernels::Set(ScalarTokens, Avx2GroupTokens<Prefetch::kOff>,
                      Avx2GroupTokens<Prefetch::kAhead>, prefetch);
}

KernelSet Avx512Q4_0Kernels(Prefetch prefetch) {
  if (!CpuHasAvx512Vnni()) return Avx2Q4_0Kernels(prefetch);
  return Kernels::Set(ScalarTokens, VnniGroupTokens<Prefetch::kOff>,
                      VnniGroupTokens<Prefetch::kAhead>, prefetch);
}

}  // namespace kvik::kernels
