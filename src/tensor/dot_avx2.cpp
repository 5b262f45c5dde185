// AVX2 + FMA (+F16C) dot products, compiled with per-function target attributes so the binary still
// runs on CPUs without them (the dispatcher only selects these after checking CPUID).
#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#include "tensor/dot_kernels.h"
#include "util/half.h"

#define KVIK_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace kvik::kernels {
namespace {

KVIK_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Four independent accumulators hide FMA latency; the tail is scalar.
KVIK_AVX2 float DotF32(const uint8_t* row, const float* x, int64_t n) {
  const float* w = reinterpret_cast<const float*>(row);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8 * k), _mm256_loadu_ps(x + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc[0]);
  float sum = HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

KVIK_AVX2 inline __m256 LoadF16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

KVIK_AVX2 inline __m256 LoadBf16x8(const uint8_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <__m256 (*Load)(const uint8_t*), float (*Scalar)(uint16_t)>
KVIK_AVX2 float DotHalf(const uint8_t* row, const float* x, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm256_fmadd_ps(Load(row + 2 * (i + 8 * k)), _mm256_loadu_ps(x + i + 8 * k), acc[k]);
    }
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(row + 2 * i), _mm256_loadu_ps(x + i), acc[0]);
  float sum = HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    sum += Scalar(h) * x[i];
  }
  return sum;
}

inline float ScalarF16(uint16_t h) { return F16ToF32(h); }
inline float ScalarBf16(uint16_t h) { return Bf16ToF32(h); }

KVIK_AVX2 inline float BlockScale(const uint8_t* block) {
  uint16_t h;
  std::memcpy(&h, block, 2);
  return _cvtsh_ss(h);
}

KVIK_AVX2 inline __m256 Int8x8ToFloat(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

KVIK_AVX2 float DotQ8_0(const uint8_t* row, const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b, row += 34, x += 32) {
    __m256 block = _mm256_mul_ps(Int8x8ToFloat(row + 2), _mm256_loadu_ps(x));
    block = _mm256_fmadd_ps(Int8x8ToFloat(row + 10), _mm256_loadu_ps(x + 8), block);
    block = _mm256_fmadd_ps(Int8x8ToFloat(row + 18), _mm256_loadu_ps(x + 16), block);
    block = _mm256_fmadd_ps(Int8x8ToFloat(row + 26), _mm256_loadu_ps(x + 24), block);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(BlockScale(row)), block, acc);
  }
  return HorizontalSum(acc);
}

// Eight 4-bit codes (one per byte) minus the zero point 8, as floats.
KVIK_AVX2 inline __m256 Nibbles(__m128i bytes, __m256i eight) {
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), eight));
}

KVIK_AVX2 float DotQ4_0(const uint8_t* row, const float* x, int64_t n) {
  const __m256i eight = _mm256_set1_epi32(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b, row += 18, x += 32) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2));
    const __m128i low = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
    __m256 block = _mm256_mul_ps(Nibbles(low, eight), _mm256_loadu_ps(x));
    block = _mm256_fmadd_ps(Nibbles(_mm_srli_si128(low, 8), eight), _mm256_loadu_ps(x + 8), block);
    block = _mm256_fmadd_ps(Nibbles(high, eight), _mm256_loadu_ps(x + 16), block);
    block = _mm256_fmadd_ps(Nibbles(_mm_srli_si128(high, 8), eight), _mm256_loadu_ps(x + 24), block);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(BlockScale(row)), block, acc);
  }
  return HorizontalSum(acc);
}

}  // namespace

bool CpuHasAvx2() {
  __builtin_cpu_init();
  // F16C is CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
  return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

DotFn Avx2Dot(DType type) {
  if (!CpuHasAvx2()) return nullptr;
  switch (type) {
    case DType::kF32: return DotF32;
    case DType::kF16: return DotHalf<LoadF16x8, ScalarF16>;
    case DType::kBF16: return DotHalf<LoadBf16x8, ScalarBf16>;
    case DType::kQ8_0: return DotQ8_0;
    case DType::kQ4_0: return DotQ4_0;
    default: return nullptr;
  }
}

}  // namespace kvik::kernels
