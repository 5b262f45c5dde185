#include "kvik/quantize.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include <immintrin.h>

#include "tensor/dot_kernels.h"
#include "util/half.h"

namespace kvik {
namespace {


constexpr int kBlock = 32;

// Q8_0: d = max|x| / 127, q = round(x / d). Layout per block: {f16 d; i8 q[32]} = 34 bytes.
void QuantizeQ8_0(const float* src, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / kBlock; ++b, src += kBlock, dst += 34) {
    float amax = 0;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float inv_d = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t d16 = F32ToF16(d);
    std::memcpy(dst, &d16, 2);
    for (int j = 0; j < kBlock; ++j) {
      dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(src[j] * inv_d)));
    }
  }
}

// Q4_0: d = (signed value of max |x|) / -8, q = clamp(round(x/d) + 8, 0, 15) — the sign trick keeps
// the extreme value exactly representable as q = 0. Layout: {f16 d; u8 q[16]}, element j in the low
// nibble of byte j, element j+16 in the high nibble.
void QuantizeQ4_0(const float* src, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / kBlock; ++b, src += kBlock, dst += 18) {
    float amax = 0, max_value = 0;
    for (int j = 0; j < kBlock; ++j) {
      if (std::fabs(src[j]) > amax) {
        amax = std::fabs(src[j]);
        max_value = src[j];
      }
    }
    const float d = max_value / -8.0f;
    const float inv_d = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t d16 = F32ToF16(d);
    std::memcpy(dst, &d16, 2);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int lo = std::clamp(static_cast<int>(src[j] * inv_d + 8.5f), 0, 15);
      const int hi = std::clamp(static_cast<int>(src[j + 16] * inv_d + 8.5f), 0, 15);
      dst[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

float LoadF16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}

}  // namespace

void QuantizeRow(DType type, const float* src, int64_t n, uint8_t* dst) {
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToF16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = F32ToBf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8_0:
      QuantizeQ8_0(src, n, dst);
      return;
    case DType::kQ4_0:
      QuantizeQ4_0(src, n, dst);
      return;
    default:
      assert(false && "QuantizeRow: type has no kernels");
  }
}

namespace {

// f16 → f32 is exact, so the F16C instruction gives the same bits as the table-free software path;
// it matters for f16 KV caches, whose value rows are converted on every attention step.
__attribute__((target("avx,f16c"))) void F16RowToF32(const uint8_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = LoadF16(src + 2 * i);
}

bool UseF16c() {
  static const bool has = kernels::CpuHasAvx2();  // AVX2 here implies F16C (checked there)
  return has;
}

}  // namespace

void DequantizeRow(DType type, const uint8_t* src, int64_t n, float* dst) {
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16:
      if (UseF16c()) return F16RowToF32(src, n, dst);
      for (int64_t i = 0; i < n; ++i) dst[i] = LoadF16(src + 2 * i);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = Bf16ToF32(h);
      }
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kBlock; ++b, src += 34, dst += kBlock) {
        const float d = LoadF16(src);
        for (int j = 0; j < kBlock; ++j) dst[j] = static_cast<int8_t>(src[2 + j]) * d;
      }
      return;
    case DType::kQ4_0:
      for (int64_t b = 0; b < n / kBlock; ++b, src += 18, dst += kBlock) {
        const float d = LoadF16(src);
        for (int j = 0; j < kBlock / 2; ++j) {
          dst[j] = ((src[2 + j] & 0x0f) - 8) * d;
          dst[j + 16] = ((src[2 + j] >> 4) - 8) * d;
        }
      }
      return;
    default:
      assert(false && "DequantizeRow: type has no kernels");
  }
}

}  // namespace kvik
