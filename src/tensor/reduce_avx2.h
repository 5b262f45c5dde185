// The one 256-bit horizontal sum the AVX2-width kernels use (256 → 128 → 64 → 32 bits), so every
// kernel computing in 8-lane f32 vectors reduces in the same order and their results agree bit for
// bit (the AVX-512 machines' F32 rows-and-tokens kernel must equal the AVX2 one-row kernel).
#pragma once

#include <immintrin.h>

namespace kvik::kernels {

__attribute__((target("avx2"))) inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

}  // namespace kvik::kernels
