// Rounding activations to int8 blocks of 32 (Q8Act), once per matrix product, for the integer Q4_0
// kernels (dot_q4_0.cpp). Every step is exact or correctly rounded, so the scalar reference and the
// AVX2 version give the same bytes.
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "tensor/dot_kernels.h"

#define KVIK_Q8_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace kvik::kernels {
namespace {

// A block whose largest magnitude is below this (or not finite) rounds to all zeros: 1 / scale
// would overflow, and NaN or infinite inputs have no int8 steps. Its scale keeps amax / 127, so a
// NaN or infinity still reaches the dot product's result.
bool RoundsToZero(float amax) { return !(amax >= 127.0f * FLT_MIN && amax <= FLT_MAX); }

// A zero block, with scale d (0, tiny, infinite or NaN).
void ZeroBlock(float d, Q8Act* out) {
  std::memset(out->q, 0, sizeof(out->q));
  out->d = d;
  out->bias = 0;
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
  int32_t sum = 0;
  for (int j = 0; j < 32; ++j) {
    out->q[j] = static_cast<int8_t>(std::nearbyint(x[j] * inverse));
    sum += out->q[j];
  }
  out->d = d;
  out->bias = -8 * sum;
}

// QuantizeBlock for 32 values at a time with AVX2: the same operations, so the same bytes.
KVIK_Q8_AVX2 void QuantizeBlocksAvx2(const float* x, int64_t n_blocks, Q8Act* out) {
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
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), bytes);
    // The sum of the 32 steps: byte pairs, then pairs of those, then across lanes.
    const __m256i quads =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes), _mm256_set1_epi16(1));
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(quads), _mm256_extracti128_si256(quads, 1));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(1, 0, 3, 2)));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(2, 3, 0, 1)));
    out[b].d = d;
    out[b].bias = -8 * _mm_cvtsi128_si32(sum);
  }
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

}  // namespace kvik::kernels
