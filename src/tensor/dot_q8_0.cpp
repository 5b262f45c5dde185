// Q8_0 weights times activations rounded to 16 bits, in integers.
//
// Converting int8 weights to floats kept Q8_0 decode compute-bound: one thread's MatVec read 19.8
// GB/s of weights from cache, below what two threads need to keep up with memory. Like Q4_0
// (dot_q4_0.cpp), each 32-element block of x is rounded once per matrix (Q8Act), but to 16 bits:
// x ≈ d · (q + r / 256) with int8 q and r, i.e. v = 256 · q + r steps of d / 256, off by at most
// half a step (1/65024 of the block's largest value, where llama.cpp's 8-bit q8_0 activations are
// off by up to 1/254). A block's dot product is then the exact integer S = Σ w · v
// (|S| < 2^28), and only the scaling is floating point, one block after another:
//
//   acc = fma(float(S_b) · d_w, d_a, acc)   for b = 0, 1, …;   result = acc / 256
//
// float(S) rounds to nearest even above 2^24 and / 256 is exact, identically on every ISA, so the
// scalar reference (row-major or interleaved), AVX2 and AVX-512 VNNI kernels give the same bits.
//   VNNI (interleaved_layout.h stores w + 128, unsigned): S = 256 · Σ(w+128)·q + Σ(w+128)·r
//        − 128 · Σ v, two vpdpbusd per 4 weights of 16 rows.
//   AVX2: the int8 weights widened to 16 bits times v with vpmaddwd, 8 rows at a time.
// Row-major rows (DotRow, the rows after the last full group) take the scalar kernel.
#include <immintrin.h>

#include <cstring>

#include "tensor/dot_kernels.h"
#include "tensor/integer_dot.h"
#include "tensor/interleaved_layout.h"

// GCC 12's avx512fintrin.h seeds some conversions with a deliberately undefined vector and then
// warns about it at every use (as in dot_avx512.cpp); the value is fully overwritten.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define KVIK_Q8_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KVIK_Q8_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define KVIK_UNROLL _Pragma("GCC unroll 8")

namespace kvik::kernels {
namespace {

using integer_dot::CpuHasAvx512Vnni;
using integer_dot::PrefetchBlockAhead;
using integer_dot::Quad;
using interleaved::kGroupRows;
constexpr const interleaved::Format& kFormat = interleaved::kQ8_0;
constexpr float kResidualScale = 1.0f / 256;

// ---- Scalar reference, row-major rows ----

int32_t RowBlockSum(const uint8_t* quants, const Q8Act& a) {
  int32_t sum = 0;
  for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(quants[j]) * a.v[j];
  return sum;
}

// ---- Scalar reference, interleaved groups ----

// Row i's block sum: chunk j's bytes 4i..4i+3 are the row's quants 4j..4j+3, stored + 128.
int32_t GroupBlockSum(const uint8_t* quants, int i, const Q8Act& a) {
  int32_t sum = 0;
  for (int j = 0; j < 8; ++j) {
    for (int k = 0; k < 4; ++k) {
      sum += static_cast<int8_t>(quants[64 * j + 4 * i + k] ^ 0x80) * a.v[4 * j + k];
    }
  }
  return sum;
}

// ---- AVX2: two halves of 8 rows, 16-bit multiply-adds ----

template <Prefetch kP, int NT>
KVIK_Q8_AVX2 void GroupAvx2Tokens(const uint8_t* group, const Q8Act* x, int64_t x_stride, int64_t n,
                                  float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  const __m256i sign = _mm256_set1_epi8(static_cast<char>(0x80));
  // vphaddd leaves the rows as 0 1 4 5 | 2 3 6 7.
  const __m256i row_order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
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
      const __m256 d_w =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * h)));
      KVIK_UNROLL
      for (int t = 0; t < NT; ++t) {
        const Q8Act& a = x[t * x_stride + b];
        // |w · v| ≤ 128 · 32640 per product: pair sums and the 32-term total fit int32 exactly.
        __m256i sums = _mm256_setzero_si256();
        KVIK_UNROLL
        for (int j = 0; j < 8; ++j) {
          const __m256i bytes = _mm256_xor_si256(
              _mm256_load_si256(reinterpret_cast<const __m256i*>(quants + 64 * j + 32 * h)), sign);
          int64_t quad;
          std::memcpy(&quad, a.v + 4 * j, 8);
          const __m256i v = _mm256_set1_epi64x(quad);
          const __m256i rows03 =
              _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(bytes)), v);
          const __m256i rows47 =
              _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(bytes, 1)), v);
          sums = _mm256_add_epi32(sums, _mm256_hadd_epi32(rows03, rows47));
        }
        const __m256 block = _mm256_cvtepi32_ps(_mm256_permutevar8x32_epi32(sums, row_order));
        acc[h][t] = _mm256_fmadd_ps(_mm256_mul_ps(block, d_w), _mm256_set1_ps(a.d), acc[h][t]);
      }
    }
  }
  const __m256 residual = _mm256_set1_ps(kResidualScale);
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) {
    _mm256_storeu_ps(out + t * out_stride, _mm256_mul_ps(acc[0][t], residual));
    _mm256_storeu_ps(out + t * out_stride + 8, _mm256_mul_ps(acc[1][t], residual));
  }
}

// ---- AVX-512 VNNI: all 16 rows in one vector, vpdpbusd on q and on r ----

template <Prefetch kP, int NT>
KVIK_Q8_VNNI void GroupVnniTokens(const uint8_t* group, const Q8Act* x, int64_t x_stride, int64_t n,
                                  float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  __m512 acc[NT];
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* quants = interleaved::GroupQuants(kFormat, group, b);
    PrefetchBlockAhead<kP>(interleaved::GroupScales(kFormat, group, b), quants,
                           interleaved::GroupQuantBytes(kFormat), b);
    __m512i w[8];  // w + 128 of elements 4j..4j+3 of each row
    KVIK_UNROLL
    for (int j = 0; j < 8; ++j) w[j] = _mm512_load_si512(quants + 64 * j);
    const __m512 d_w = _mm512_cvtph_ps(_mm256_load_si256(
        reinterpret_cast<const __m256i*>(interleaved::GroupScales(kFormat, group, b))));
    KVIK_UNROLL
    for (int t = 0; t < NT; ++t) {
      const Q8Act& a = x[t * x_stride + b];
      // Two chains each for q and r hide vpdpbusd's latency; integer sums are exact in any order.
      // Σ(w+128)·q ≤ 32 · 255 · 127, so shifting it by 8 bits stays far inside int32.
      __m512i q0 = _mm512_setzero_si512(), q1 = _mm512_setzero_si512();
      __m512i r0 = _mm512_set1_epi32(a.bias_q8), r1 = _mm512_setzero_si512();
      KVIK_UNROLL
      for (int j = 0; j < 8; j += 2) {
        q0 = _mm512_dpbusd_epi32(q0, w[j], _mm512_set1_epi32(Quad(a.q, j)));
        r0 = _mm512_dpbusd_epi32(r0, w[j], _mm512_set1_epi32(Quad(a.r, j)));
        q1 = _mm512_dpbusd_epi32(q1, w[j + 1], _mm512_set1_epi32(Quad(a.q, j + 1)));
        r1 = _mm512_dpbusd_epi32(r1, w[j + 1], _mm512_set1_epi32(Quad(a.r, j + 1)));
      }
      const __m512i sums = _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(q0, q1), 8),
                                            _mm512_add_epi32(r0, r1));
      acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sums), d_w), _mm512_set1_ps(a.d),
                               acc[t]);
    }
  }
  const __m512 residual = _mm512_set1_ps(kResidualScale);
  KVIK_UNROLL
  for (int t = 0; t < NT; ++t)
    _mm512_storeu_ps(out + t * out_stride, _mm512_mul_ps(acc[t], residual));
}

KVIK_TOKEN_TABLE(ScalarTokens, DotQ8TokensFn, integer_dot::RowScalarTokens, kFormat, RowBlockSum,
                 kResidualScale)
KVIK_TOKEN_TABLE(ScalarGroupTokens, DotQ8GroupTokensFn, integer_dot::GroupScalarTokens, kFormat,
                 GroupBlockSum, kResidualScale)
template <Prefetch kP>
KVIK_TOKEN_TABLE(Avx2GroupTokens, DotQ8GroupTokensFn, GroupAvx2Tokens, kP)
template <Prefetch kP>
KVIK_TOKEN_TABLE(VnniGroupTokens, DotQ8GroupTokensFn, GroupVnniTokens, kP)

using Kernels = integer_dot::IntegerKernels<
    integer_dot::RowScalarTokens<kFormat, RowBlockSum, kResidualScale, 1>>;

}  // namespace

KernelSet ScalarQ8_0Kernels() { return Kernels::Set(ScalarTokens, ScalarGroupTokens); }

KernelSet Avx2Q8_0Kernels(Prefetch prefetch) {
  if (!CpuHasAvx2()) return {};
  return Kernels::Set(ScalarTokens, Avx2GroupTokens<Prefetch::kOff>,
                      Avx2GroupTokens<Prefetch::kAhead>, prefetch);
}

KernelSet Avx512Q8_0Kernels(Prefetch prefetch) {
  if (!CpuHasAvx512Vnni()) return Avx2Q8_0Kernels(prefetch);
  return Kernels::Set(ScalarTokens, VnniGroupTokens<Prefetch::kOff>,
                      VnniGroupTokens<Prefetch::kAhead>, prefetch);
}

}  // namespace kvik::kernels
