// The one horizontal sum every AVX-512 kernel uses, so dot products and ops reduce in the same
// fixed order (512 → 256 → 128 → 64 → 32 bits) and a result never depends on which file made it.
#pragma once

#include <immintrin.h>

namespace kvik::kernels {

__attribute__((target("avx512f,avx512vl"))) inline float ReduceAdd(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  __m256 sum8 = _mm256_add_ps(lo, hi);
  __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(sum8), _mm256_extractf128_ps(sum8, 1));
  sum4 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  sum4 = _mm_add_ss(sum4, _mm_movehdup_ps(sum4));
  return _mm_cvtss_f32(sum4);
}

}  // namespace kvik::kernels
