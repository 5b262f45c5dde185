// The vector versions of ExpReference (group_kernels.h), 8 and 16 lanes: the same float
// operations in the same order, so each lane returns ExpReference's bits. Include only from files
// compiled with `#pragma GCC optimize("fp-contract=off")` before their includes: with contraction a
// mul feeding an add could fuse into an FMA here and round differently from the scalar reference.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace kvik::attention::exp_constants {

// Cephes expf (Moshier, cephes/single/expf.c).
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kC1 = 0.693359375f;     // ln 2, high part: n·kC1 is exact for |n| ≤ 2^15
inline constexpr float kC2 = -2.12194440e-4f;  // ln 2 − kC1
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                       kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
inline constexpr float kLowest = -104.0f;  // exp(−104) < 2^−150: rounds to +0
inline constexpr float kHighest = 89.0f;   // exp(89) > FLT_MAX: rounds to +inf

}  // namespace kvik::attention::exp_constants

namespace kvik::attention {

// maxps/minps return their second operand when either is NaN, so x is put second: NaN passes
// through (and its garbage exponent below cannot make the product anything but NaN).
__attribute__((target("avx2,fma"))) inline __m256 Exp8(__m256 x) {
  using namespace exp_constants;
  x = _mm256_max_ps(_mm256_set1_ps(kLowest), x);
  x = _mm256_min_ps(_mm256_set1_ps(kHighest), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(kC1)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(kC2)));
  const __m256 z = _mm256_mul_ps(r, r);
  __m256 y = _mm256_set1_ps(kP0);
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(kP1));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(kP2));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(kP3));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(kP4));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(kP5));
  y = _mm256_add_ps(_mm256_mul_ps(y, z), r);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_cvtps_epi32(n);  // n is integral: exact
  const __m256i e1 = _mm256_srai_epi32(e, 1);
  const __m256i e2 = _mm256_sub_epi32(e, e1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e1, bias), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
}

__attribute__((target("avx512f"))) inline __m512 Exp16(__m512 x) {
  using namespace exp_constants;
  x = _mm512_max_ps(_mm512_set1_ps(kLowest), x);
  x = _mm512_min_ps(_mm512_set1_ps(kHighest), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(kC1)));
  r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(kC2)));
  const __m512 z = _mm512_mul_ps(r, r);
  __m512 y = _mm512_set1_ps(kP0);
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(kP1));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(kP2));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(kP3));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(kP4));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(kP5));
  y = _mm512_add_ps(_mm512_mul_ps(y, z), r);
  y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
  const __m512i e = _mm512_cvtps_epi32(n);
  const __m512i e1 = _mm512_srai_epi32(e, 1);
  const __m512i e2 = _mm512_sub_epi32(e, e1);
  const __m512i bias = _mm512_set1_epi32(127);
  const __m512 p1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e1, bias), 23));
  const __m512 p2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e2, bias), 23));
  return _mm512_mul_ps(_mm512_mul_ps(y, p1), p2);
}

}  // namespace kvik::attention
