// Q4_0 weights times 8-bit activations, in integers.
//
// Unpacking 4-bit weights to floats costs more instructions than the 4.5 bits per weight save in
// memory traffic, so a float Q4_0 dot product is compute-bound (decode reached 50% of the
// bandwidth roofline). Instead, like llama.cpp's q4_0 × q8_0, each 32-element block of x is rounded
// once per matrix to int8 with one f32 scale (Q8Act), and a block's dot product is an exact integer
// sum: Σ (w − 8) · a = Σ w · a + bias, where bias = −8 · Σ a is precomputed per group of 4
// activations, so one unsigned × signed multiply-add instruction (VNNI vpdpbusd, or AVX2
// vpmaddubsw + vpmaddwd) gives the 8 partial sums of a block exactly, with no correction after it.
// Only the scaling is floating point: acc += (float(partial sums) · d_w) · d_a, 8 lanes, blocks
// alternating between two accumulators; the scalar reference does the same per block.
//
// Every ISA computes identical integer partial sums; the AVX2 and AVX-512 VNNI kernels also run the
// same float operations in the same order, so they give the same bits. The token-batched kernels
// (NT tokens share each unpacked weight block) give each token the instructions of NT = 1, so
// MatMul stays bit-identical to one-token dot products.
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "tensor/dot_kernels.h"
#include "tensor/reduce_avx2.h"
#include "tensor/scratch.h"
#include "util/half.h"

#define KVIK_Q4_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KVIK_Q4_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
#define KVIK_UNROLL _Pragma("GCC unroll 4")

namespace kvik::kernels {
namespace {

constexpr int64_t kQ4BlockBytes = 18;

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// A block whose largest magnitude is below this (or not finite) rounds to all zeros: 1 / scale
// would overflow, and NaN or infinite inputs have no int8 steps. Its scale keeps amax / 127, so a
// NaN or infinity still reaches the dot product's result.
bool RoundsToZero(float amax) { return !(amax >= 127.0f * FLT_MIN && amax <= FLT_MAX); }

void SetScale(float d, Q8Act* out) {
  out->d = d;
  std::fill(out->d8, out->d8 + 8, d);
}

// A zero block, with scale d (0, tiny, infinite or NaN).
void ZeroBlock(float d, Q8Act* out) {
  std::memset(out->q, 0, sizeof(out->q));
  std::memset(out->bias, 0, sizeof(out->bias));
  SetScale(d, out);
}

// Rounds one block of 32 values. Every step is exact or correctly rounded (max, one division, one
// multiply, round-to-nearest-even), so any compiler vectorisation gives the same bytes.
void QuantizeBlock(const float* x, Q8Act* out) {
  float amax = 0;
  bool nan = false;
  for (int j = 0; j < 32; ++j) {
    amax = std::max(amax, std::fabs(x[j]));
    nan = nan || std::isnan(x[j]);
  }
  if (nan) amax = std::numeric_limits<float>::quiet_NaN();
  const float d = amax / 127.0f;
  if (RoundsToZero(amax)) return ZeroBlock(d, out);
  const float inverse = 1.0f / d;
  for (int j = 0; j < 32; ++j) out->q[j] = static_cast<int8_t>(std::nearbyint(x[j] * inverse));
  for (int g = 0; g < 8; ++g) {
    out->bias[g] = -8 * (out->q[4 * g] + out->q[4 * g + 1] + out->q[4 * g + 2] + out->q[4 * g + 3]);
  }
  SetScale(d, out);
}

// QuantizeBlock for 32 values at a time with AVX2: the same operations, so the same bytes.
KVIK_Q4_AVX2 void QuantizeBlocksAvx2(const float* x, int64_t n_blocks, Q8Act* out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n_blocks; ++b, x += 32) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
    __m256 amax8 =
        _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                      _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 amax4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    amax4 = _mm_max_ps(amax4, _mm_movehl_ps(amax4, amax4));
    amax4 = _mm_max_ss(amax4, _mm_movehdup_ps(amax4));
    const __m256 unordered = _mm256_or_ps(_mm256_cmp_ps(v[0], v[1], _CMP_UNORD_Q),
                                          _mm256_cmp_ps(v[2], v[3], _CMP_UNORD_Q));
    const float amax = _mm256_movemask_ps(unordered) ? std::numeric_limits<float>::quiet_NaN()
                                                     : _mm_cvtss_f32(amax4);
    const float d = amax / 127.0f;
    if (RoundsToZero(amax)) {
      ZeroBlock(d, out + b);
      continue;
    }
    const __m256 inverse = _mm256_set1_ps(1.0f / d);
    __m256i steps[4];
    // cvtps2dq rounds to nearest even under the default MXCSR, as std::nearbyint does.
    for (int k = 0; k < 4; ++k) steps[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], inverse));
    // Saturating packs interleave the 128-bit lanes; the permute restores element order.
    const __m256i words01 = _mm256_packs_epi32(steps[0], steps[1]);
    const __m256i words23 = _mm256_packs_epi32(steps[2], steps[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words01, words23),
                                                      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[b].q), bytes);
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[b].bias),
                       _mm256_madd_epi16(pairs, _mm256_set1_epi16(-8)));
    out[b].d = d;
    _mm256_store_ps(out[b].d8, _mm256_set1_ps(d));
  }
}

// The exact integer dot product of a Q4_0 block with an activation block.
int32_t BlockDotScalar(const uint8_t* block, const Q8Act& a) {
  int32_t sum = 0;
  for (int j = 0; j < 16; ++j) {
    sum += ((block[2 + j] & 0x0f) - 8) * a.q[j];
    sum += ((block[2 + j] >> 4) - 8) * a.q[j + 16];
  }
  return sum;
}

template <int NT>
void DotQ4ScalarTokens(const uint8_t* row, const Q8Act* x, int64_t x_stride, int64_t n, float* out,
                       int64_t out_stride) {
  for (int t = 0; t < NT; ++t) {
    const Q8Act* xt = x + t * x_stride;
    float sum = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
      const uint8_t* block = row + b * kQ4BlockBytes;
      const float scaled =
          static_cast<float>(BlockDotScalar(block, xt[b])) * F16ToF32(Load16(block));
      sum += scaled * xt[b].d;
    }
    out[t * out_stride] = sum;
  }
}

// The 32 weights of a block, unsigned (0..15), in element order: low nibbles then high nibbles.
KVIK_Q4_AVX2 inline __m256i UnpackQ4(const uint8_t* block) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// The block's f16 scale in all 8 lanes (broadcast as f16, then converted: two instructions).
KVIK_Q4_AVX2 inline __m256 WeightScale(const uint8_t* block) {
  return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<int16_t>(Load16(block))));
}

KVIK_Q4_AVX2 inline __m256i PartialSumsAvx2(__m256i w, const Q8Act& a) {
  // |w · a| ≤ 15 · 128 per byte pair sum ≤ 3840: vpmaddubsw cannot saturate.
  const __m256i pairs =
      _mm256_maddubs_epi16(w, _mm256_load_si256(reinterpret_cast<const __m256i*>(a.q)));
  const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  return _mm256_add_epi32(quads, _mm256_load_si256(reinterpret_cast<const __m256i*>(a.bias)));
}

KVIK_Q4_VNNI inline __m256i PartialSumsVnni(__m256i w, const Q8Act& a) {
  return _mm256_dpbusd_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(a.bias)), w,
                             _mm256_load_si256(reinterpret_cast<const __m256i*>(a.q)));
}

// One kernel body for both ISAs: a target attribute cannot depend on a template parameter, and the
// AVX2 version must not be compiled for AVX-512. NAME##Rows<NR, NT> multiplies NR rows (`row_bytes`
// apart) by NT tokens; NAME##Step does block b, whose partial sums go to one accumulator for even
// blocks and another for odd ones, so two FMAs are in flight. Every (row, token) pair sees the same
// instructions in the same order for any NR and NT, so all instantiations agree bit for bit.
#define KVIK_Q4_KERNEL(NAME, TARGET, PARTIAL_SUMS)                                                 \
  template <int NR, int NT>                                                                        \
  TARGET inline void NAME##Step(const uint8_t* rows, int64_t row_bytes, const Q8Act* x,            \
                                int64_t x_stride, int64_t b, __m256(*acc)[NT]) {                   \
    __m256i w[NR];                                                                                 \
    __m256 dw[NR];                                                                                 \
    KVIK_UNROLL                                                                                    \
    for (int r = 0; r < NR; ++r) {                                                                 \
      const uint8_t* block = rows + r * row_bytes + b * kQ4BlockBytes;                             \
      w[r] = UnpackQ4(block);                                                                      \
      dw[r] = WeightScale(block);                                                                  \
    }                                                                                              \
    KVIK_UNROLL                                                                                    \
    for (int t = 0; t < NT; ++t) {                                                                 \
      const Q8Act& a = x[t * x_stride + b];                                                        \
      KVIK_UNROLL                                                                                  \
      for (int r = 0; r < NR; ++r) {                                                               \
        const __m256 sums = _mm256_mul_ps(_mm256_cvtepi32_ps(PARTIAL_SUMS(w[r], a)), dw[r]);       \
        acc[r][t] = _mm256_fmadd_ps(sums, _mm256_load_ps(a.d8), acc[r][t]);                        \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
  template <int NR, int NT>                                                                        \
  TARGET void NAME##Rows(const uint8_t* rows, int64_t row_bytes, const Q8Act* x, int64_t x_stride, \
                         int64_t n, float* out, int64_t out_stride) {                              \
    __m256 even[NR][NT], odd[NR][NT];                                                              \
    KVIK_UNROLL                                                                                    \
    for (int r = 0; r < NR; ++r) {                                                                 \
      KVIK_UNROLL                                                                                  \
      for (int t = 0; t < NT; ++t) even[r][t] = odd[r][t] = _mm256_setzero_ps();                   \
    }                                                                                              \
    const int64_t n_blocks = n / 32;                                                               \
    int64_t b = 0;                                                                                 \
    for (; b + 2 <= n_blocks; b += 2) {                                                            \
      NAME##Step<NR, NT>(rows, row_bytes, x, x_stride, b, even);                                   \
      NAME##Step<NR, NT>(rows, row_bytes, x, x_stride, b + 1, odd);                                \
    }                                                                                              \
    if (b < n_blocks) NAME##Step<NR, NT>(rows, row_bytes, x, x_stride, b, even);                   \
    KVIK_UNROLL                                                                                    \
    for (int r = 0; r < NR; ++r) {                                                                 \
      KVIK_UNROLL                                                                                  \
      for (int t = 0; t < NT; ++t) {                                                               \
        out[t * out_stride + r] = HorizontalSum(_mm256_add_ps(even[r][t], odd[r][t]));             \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
  template <int NT>                                                                                \
  void NAME(const uint8_t* row, const Q8Act* x, int64_t x_stride, int64_t n, float* out,           \
            int64_t out_stride) {                                                                  \
    NAME##Rows<1, NT>(row, 0, x, x_stride, n, out, out_stride);                                    \
  }

KVIK_Q4_KERNEL(DotQ4Avx2, KVIK_Q4_AVX2, PartialSumsAvx2)
KVIK_Q4_KERNEL(DotQ4Vnni, KVIK_Q4_VNNI, PartialSumsVnni)

KVIK_TOKEN_TABLE(ScalarTokens, DotQ8TokensFn, DotQ4ScalarTokens)
KVIK_TOKEN_TABLE(Avx2Tokens, DotQ8TokensFn, DotQ4Avx2)
KVIK_TOKEN_TABLE(VnniTokens, DotQ8TokensFn, DotQ4Vnni)
// Two rows per call need AVX-512VL's 32 registers (2 rows × 4 tokens × 2 accumulators).
KVIK_TOKEN_TABLE(VnniRowsTokens, DotQ8RowsTokensFn, DotQ4VnniRows, kRowsPerKernel)

// Activation blocks for one-token dot products.
struct OneTokenActivations;

// DotFn for one token: round x, then the NT = 1 kernel (what MatMul runs per row, so the two
// agree).
template <DotQ8TokensFn (*Tokens)(int)>
float DotQ4OneToken(const uint8_t* row, const float* x, int64_t n) {
  Q8Act* blocks = ThreadScratch<Q8Act, OneTokenActivations>(n / 32);
  QuantizeActivations(x, n, blocks);
  float out;
  Tokens(1)(row, blocks, 0, n, &out, 0);
  return out;
}

bool CpuHasAvx512Vnni() {
  __builtin_cpu_init();
  return CpuHasAvx512() && __builtin_cpu_supports("avx512vnni");
}

}  // namespace

void QuantizeActivationsScalar(const float* x, int64_t n, Q8Act* out) {
  for (int64_t b = 0; b < n / 32; ++b) QuantizeBlock(x + 32 * b, out + b);
}

void QuantizeActivations(const float* x, int64_t n, Q8Act* out) {
  static const bool avx2 = CpuHasAvx2() && SelectedIsa() != Isa::kScalar;
  if (avx2) return QuantizeBlocksAvx2(x, n / 32, out);
  QuantizeActivationsScalar(x, n, out);
}

KernelSet ScalarQ4_0Kernels() {
  return {DotQ4OneToken<ScalarTokens>, nullptr, nullptr, ScalarTokens, nullptr};
}

KernelSet Avx2Q4_0Kernels() {
  if (!CpuHasAvx2()) return {};
  return {DotQ4OneToken<Avx2Tokens>, nullptr, nullptr, Avx2Tokens, nullptr};
}

KernelSet Avx512Q4_0Kernels() {
  if (!CpuHasAvx512Vnni()) return Avx2Q4_0Kernels();
  return {DotQ4OneToken<VnniTokens>, nullptr, nullptr, VnniTokens, VnniRowsTokens};
}

}  // namespace kvik::kernels
