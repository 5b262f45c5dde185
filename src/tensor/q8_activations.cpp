// Rounding activations to int8 blocks of 32 (Q8Act: steps q of d and residual steps r of d / 256),
// once per matrix product, for the integer kernels (dot_q4_0.cpp, dot_q8_0.cpp). Every step is
// exact or correctly rounded, so the scalar reference and the AVX2 version give the same bytes.
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
  std::memset(out->r, 0, sizeof(out->r));
  std::memset(out->v, 0, sizeof(out->v));
  out->d = d;
  out->bias = 0;
  out->bias_q8 = 0;
}

// What follows from q and r: v and the two biases (integer arithmetic, the same for both ISAs).
void FinishBlock(float d, Q8Act* out) {
  int32_t sum_q = 0, sum_v = 0;
  for (int j = 0; j < 32; ++j) {
    out->v[j] = static_cast<int16_t>(256 * out->q[j] + out->r[j]);
    sum_q += out->q[j];
    sum_v += out->v[j];
  }
  out->d = d;
  out->bias = -8 * sum_q;
  out->bias_q8 = -128 * sum_v;
}

// The residual step: the rounding error of q, exactly (one FMA), in steps of d / 256, saturated to
// int8 as the AVX2 pack instructions do (it can reach ±128 when x · (1/d) lands on a half step).
int8_t ResidualStep(float x, float d, float q, float residual_inverse) {
  const float step = std::nearbyint(std::fma(-d, q, x) * residual_inverse);
  return static_cast<int8_t>(std::clamp(step, -128.0f, 127.0f));
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
  const float inverse = 1.0f / d, residual_inverse = inverse * 256.0f;
  for (int j = 0; j < 32; ++j) {
    const float q = std::nearbyint(x[j] * inverse);
    out->q[j] = static_cast<int8_t>(q);
    out->r[j] = ResidualStep(x[j], d, q, residual_inverse);
  }
  FinishBlock(d, out);
}

// 32 int32 in element order as saturated int8 (the packs interleave the 128-bit lanes; the permute
// restores element order).
KVIK_Q8_AVX2 __m256i PackBytes(const __m256i values[4]) {
  const __m256i words01 = _mm256_packs_epi32(values[0], values[1]);
  const __m256i words23 = _mm256_packs_epi32(values[2], values[3]);
  return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words01, words23),
                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
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
    const float inverse_scalar = 1.0f / d;
    const __m256 inverse = _mm256_set1_ps(inverse_scalar);
    const __m256 residual_inverse = _mm256_set1_ps(inverse_scalar * 256.0f);
    const __m256 scale = _mm256_set1_ps(d);
    __m256i steps[4], residuals[4];
    for (int k = 0; k < 4; ++k) {
      // cvtps2dq rounds to nearest even under the default MXCSR, as std::nearbyint does.
      steps[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], inverse));
      const __m256 error = _mm256_fnmadd_ps(scale, _mm256_cvtepi32_ps(steps[k]), v[k]);
      residuals[k] = _mm256_cvtps_epi32(_mm256_mul_ps(error, residual_inverse));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), PackBytes(steps));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].r), PackBytes(residuals));
    FinishBlock(d, out + b);
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
