// AVX2 + FMA (+F16C) grouped-attention kernels, compiled with per-function target attributes so
// the binary still runs on CPUs without them (GroupKernelsFor only hands them out after the CPUID
// check). head_dim must be a multiple of 8: no tail loops, no masked loads.
//
// Heads are register-blocked up to 4 at a time (NG); each head keeps its own accumulators, so its
// result is the same whatever NG or the group size (see group_kernels.h).

// Before the includes, so inline helpers share the setting: a mul feeding an add must round twice,
// as in ExpReference (see group_kernels.h).
#pragma GCC optimize("fp-contract=off")

#include <immintrin.h>

#include <cstdint>

#include "attention/group_kernels.h"
#include "attention/simd_exp.h"
#include "kvik/quantize.h"
#include "tensor/dot_kernels.h"

#define KVIK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KVIK_UNROLL _Pragma("GCC unroll 8")

namespace kvik::attention {
namespace {

constexpr int kLanes = 8;

// How the score and accumulate kernels read 8 elements of a row: f32 rows in place, f16 rows
// converted as they are loaded (exact, so the same values and bits as Convert's).
struct F32Row {
  using Element = float;
  KVIK_AVX2 static __m256 Load(const float* row, int64_t i) { return _mm256_loadu_ps(row + i); }
};
struct F16Row {
  using Element = uint16_t;
  KVIK_AVX2 static __m256 Load(const uint16_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i)));
  }
};

KVIK_AVX2 inline __m256 Exp(__m256 x) { return Exp8(x); }

KVIK_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

KVIK_AVX2 inline float HorizontalMax(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

KVIK_AVX2 void ConvertRow(DType dtype, const uint8_t* row, int64_t n, float* dst) {
  if (dtype == DType::kF16) {
    for (int64_t i = 0; i < n; i += kLanes) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
  } else if (dtype == DType::kBF16) {
    // bf16 is the top half of an f32: widening and shifting is exact.
    for (int64_t i = 0; i < n; i += kLanes) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i));
      _mm256_storeu_ps(dst + i,
                       _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
    }
  } else {
    DequantizeRow(dtype, row, n, dst);
  }
}

KVIK_AVX2 void Convert(DType dtype, const uint8_t* const* rows, int64_t count, int64_t n,
                       float* dst) {
  for (int64_t j = 0; j < count; ++j) ConvertRow(dtype, rows[j], n, dst + j * n);
}

template <int NG, typename Row>
KVIK_AVX2 void ScoreHeads(const typename Row::Element* const* rows, int64_t count, const float* q,
                          int64_t n, float* scores) {
  for (int64_t j = 0; j < count; ++j) {
    const typename Row::Element* k = rows[j];
    __m256 acc[NG];
    KVIK_UNROLL
    for (int g = 0; g < NG; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t d = 0; d < n; d += kLanes) {
      const __m256 kv = Row::Load(k, d);
      KVIK_UNROLL
      for (int g = 0; g < NG; ++g)
        acc[g] = _mm256_fmadd_ps(kv, _mm256_loadu_ps(q + g * n + d), acc[g]);
    }
    KVIK_UNROLL
    for (int g = 0; g < NG; ++g) scores[g * kTile + j] = HorizontalSum(acc[g]);
  }
}

template <typename Row>
KVIK_AVX2 void ScoreRows(const typename Row::Element* const* rows, int64_t count, const float* q,
                         int64_t n_heads, int64_t n, float* scores) {
  for (int64_t g = 0; g < n_heads;) {
    const float* qg = q + g * n;
    float* sg = scores + g * kTile;
    switch (n_heads - g) {
      case 1:
        ScoreHeads<1, Row>(rows, count, qg, n, sg);
        g += 1;
        break;
      case 2:
        ScoreHeads<2, Row>(rows, count, qg, n, sg);
        g += 2;
        break;
      case 3:
        ScoreHeads<3, Row>(rows, count, qg, n, sg);
        g += 3;
        break;
      default:
        ScoreHeads<4, Row>(rows, count, qg, n, sg);
        g += 4;
        break;
    }
  }
}

// Softmax for G ≤ 3 heads, unrolled so that their steps interleave: each head's step is one long
// dependency chain (max, exp, sum), and one head after another they left the FP units mostly idle
// (as in group_kernels_avx512.cpp).
template <int G>
KVIK_AVX2 __attribute__((always_inline)) inline void SoftmaxHeads(float* scores, int64_t count,
                                                                  float scale, float* max,
                                                                  float* sum, float* rescale) {
  constexpr int kVectors = kTile / kLanes;
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  const __m256i counts = _mm256_set1_epi32(static_cast<int32_t>(count));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  float tile_max[G];
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    float* sg = scores + g * kTile;
    __m256 m = _mm256_set1_ps(max[g]);
    KVIK_UNROLL
    for (int c = 0; c < kVectors; ++c) {
      const __m256i index = _mm256_add_epi32(lane, _mm256_set1_epi32(c * kLanes));
      const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(counts, index));
      const __m256 s = _mm256_blendv_ps(
          neg_inf, _mm256_mul_ps(_mm256_loadu_ps(sg + c * kLanes), _mm256_set1_ps(scale)), valid);
      _mm256_storeu_ps(sg + c * kLanes, s);
      m = _mm256_max_ps(m, s);
    }
    tile_max[g] = HorizontalMax(m);
  }
  // The second pass reads the scaled scores back (from L1) and writes p in their place. Each
  // head's sum keeps the tree (p0 + p1) + (p2 + p3).
  __m256 low[G], high[G];
  KVIK_UNROLL
  for (int c = 0; c < kVectors; ++c) {
    KVIK_UNROLL
    for (int g = 0; g < G; ++g) {
      float* sg = scores + g * kTile + c * kLanes;
      const __m256 p = Exp(_mm256_sub_ps(_mm256_loadu_ps(sg), _mm256_set1_ps(tile_max[g])));
      _mm256_storeu_ps(sg, p);
      if (c == 0) low[g] = p;
      if (c == 1) low[g] = _mm256_add_ps(low[g], p);
      if (c == 2) high[g] = p;
      if (c == 3) high[g] = _mm256_add_ps(high[g], p);
    }
  }
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    rescale[g] = MaxUnchanged(max[g], tile_max[g])
                     ? 1.0f
                     : _mm256_cvtss_f32(Exp(_mm256_set1_ps(max[g] - tile_max[g])));
    sum[g] = sum[g] * rescale[g] + HorizontalSum(_mm256_add_ps(low[g], high[g]));
    max[g] = tile_max[g];
  }
}

KVIK_AVX2 void Softmax(float* scores, int64_t count, int64_t n_heads, float scale, float* max,
                       float* sum, float* rescale) {
  static_assert(kTile == 4 * kLanes);
  for (int64_t g = 0; g < n_heads;) {
    float* sg = scores + g * kTile;
    switch (n_heads - g) {
      case 1:
        SoftmaxHeads<1>(sg, count, scale, max + g, sum + g, rescale + g);
        g += 1;
        break;
      case 2:
        SoftmaxHeads<2>(sg, count, scale, max + g, sum + g, rescale + g);
        g += 2;
        break;
      default:
        SoftmaxHeads<3>(sg, count, scale, max + g, sum + g, rescale + g);
        g += 3;
        break;
    }
  }
}

// NG heads × NV vectors of 8 dims starting at `d`: the accumulators stay in registers across the
// tile's keys (NG·NV + NV + 1 ≤ 16 ymm registers).
template <int NG, int NV, typename Row>
KVIK_AVX2 void AccumulateBlock(const typename Row::Element* const* rows, int64_t count,
                               const float* p, const float* rescale, int64_t n, int64_t d,
                               float* acc) {
  __m256 a[NG][NV];
  KVIK_UNROLL
  for (int g = 0; g < NG; ++g) {
    const __m256 r = _mm256_set1_ps(rescale[g]);
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c)
      a[g][c] = _mm256_mul_ps(_mm256_loadu_ps(acc + g * n + d + c * kLanes), r);
  }
  for (int64_t j = 0; j < count; ++j) {
    __m256 v[NV];
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) v[c] = Row::Load(rows[j], d + c * kLanes);
    KVIK_UNROLL
    for (int g = 0; g < NG; ++g) {
      const __m256 pj = _mm256_broadcast_ss(p + g * kTile + j);
      KVIK_UNROLL
      for (int c = 0; c < NV; ++c) a[g][c] = _mm256_fmadd_ps(pj, v[c], a[g][c]);
    }
  }
  KVIK_UNROLL
  for (int g = 0; g < NG; ++g) {
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) _mm256_storeu_ps(acc + g * n + d + c * kLanes, a[g][c]);
  }
}

template <int NV, typename Row>
KVIK_AVX2 void AccumulateHeads(const typename Row::Element* const* rows, int64_t count,
                               const float* p, const float* rescale, int64_t n_heads, int64_t n,
                               int64_t d, float* acc) {
  for (int64_t g = 0; g < n_heads;) {
    const float* pg = p + g * kTile;
    const float* rg = rescale + g;
    float* ag = acc + g * n;
    switch (n_heads - g) {
      case 1:
        AccumulateBlock<1, NV, Row>(rows, count, pg, rg, n, d, ag);
        g += 1;
        break;
      case 2:
        AccumulateBlock<2, NV, Row>(rows, count, pg, rg, n, d, ag);
        g += 2;
        break;
      case 3:
        AccumulateBlock<3, NV, Row>(rows, count, pg, rg, n, d, ag);
        g += 3;
        break;
      default:
        AccumulateBlock<4, NV, Row>(rows, count, pg, rg, n, d, ag);
        g += 4;
        break;
    }
  }
}

// One head over rows of exactly NV vectors, read whole, one after another (NV + 2 ≤ 10 ymm
// registers for up to 64 dims). Each accumulator sees the same FMAs in the same order as in
// AccumulateBlock's passes.
template <int NV, typename Row>
KVIK_AVX2 void AccumulateWholeRows(const typename Row::Element* const* rows, int64_t count,
                                   const float* p, float rescale, float* acc) {
  __m256 a[NV];
  const __m256 r = _mm256_set1_ps(rescale);
  KVIK_UNROLL
  for (int c = 0; c < NV; ++c) a[c] = _mm256_mul_ps(_mm256_loadu_ps(acc + c * kLanes), r);
  for (int64_t j = 0; j < count; ++j) {
    const __m256 pj = _mm256_set1_ps(p[j]);
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) {
      a[c] = _mm256_fmadd_ps(pj, Row::Load(rows[j], c * kLanes), a[c]);
    }
  }
  KVIK_UNROLL
  for (int c = 0; c < NV; ++c) _mm256_storeu_ps(acc + c * kLanes, a[c]);
}

template <typename Row>
KVIK_AVX2 void AccumulateRows(const typename Row::Element* const* rows, int64_t count,
                              const float* p, const float* rescale, int64_t n_heads, int64_t n,
                              float* acc) {
  // Rows of up to 64 dims are read whole, a head at a time: the first head's pass reads the
  // tile's rows in order, the other heads' find them in L1. (Passes of one 64-byte line over all
  // the tile's rows, below, read the cache from DRAM at a third of the AVX-512 kernels' rate:
  // bench/attention_bench BM_DecodeLayerIsa/1/0/16.)
  if (n <= 8 * kLanes) {
    for (int64_t g = 0; g < n_heads; ++g) {
      const float* pg = p + g * kTile;
      float* ag = acc + g * n;
      switch (n / kLanes) {
        case 1:
          AccumulateWholeRows<1, Row>(rows, count, pg, rescale[g], ag);
          break;
        case 2:
          AccumulateWholeRows<2, Row>(rows, count, pg, rescale[g], ag);
          break;
        case 3:
          AccumulateWholeRows<3, Row>(rows, count, pg, rescale[g], ag);
          break;
        case 4:
          AccumulateWholeRows<4, Row>(rows, count, pg, rescale[g], ag);
          break;
        case 5:
          AccumulateWholeRows<5, Row>(rows, count, pg, rescale[g], ag);
          break;
        case 6:
          AccumulateWholeRows<6, Row>(rows, count, pg, rescale[g], ag);
          break;
        case 7:
          AccumulateWholeRows<7, Row>(rows, count, pg, rescale[g], ag);
          break;
        default:
          AccumulateWholeRows<8, Row>(rows, count, pg, rescale[g], ag);
          break;
      }
    }
    return;
  }
  // 16 dims (one 64-byte line of an f32 row) per pass over the tile's rows.
  int64_t d = 0;
  for (; d + 2 * kLanes <= n; d += 2 * kLanes) {
    AccumulateHeads<2, Row>(rows, count, p, rescale, n_heads, n, d, acc);
  }
  if (d < n) AccumulateHeads<1, Row>(rows, count, p, rescale, n_heads, n, d, acc);
}

KVIK_AVX2 void Score(const float* const* rows, int64_t count, const float* q, int64_t n_heads,
                     int64_t n, float* scores) {
  ScoreRows<F32Row>(rows, count, q, n_heads, n, scores);
}

KVIK_AVX2 void Accumulate(const float* const* rows, int64_t count, const float* p,
                          const float* rescale, int64_t n_heads, int64_t n, float* acc) {
  AccumulateRows<F32Row>(rows, count, p, rescale, n_heads, n, acc);
}

KVIK_AVX2 void ScoreF16(const uint16_t* const* rows, int64_t count, const float* q, int64_t n_heads,
                        int64_t n, float* scores) {
  ScoreRows<F16Row>(rows, count, q, n_heads, n, scores);
}

KVIK_AVX2 void AccumulateF16(const uint16_t* const* rows, int64_t count, const float* p,
                             const float* rescale, int64_t n_heads, int64_t n, float* acc) {
  AccumulateRows<F16Row>(rows, count, p, rescale, n_heads, n, acc);
}

KVIK_AVX2 void ExpRow(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(y + i, Exp(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float in[kLanes] = {}, out[kLanes];
    for (int64_t k = i; k < n; ++k) in[k - i] = x[k];
    _mm256_storeu_ps(out, Exp(_mm256_loadu_ps(in)));
    for (int64_t k = i; k < n; ++k) y[k] = out[k - i];
  }
}

}  // namespace

GroupKernels Avx2GroupKernels() {
  if (!kernels::CpuHasAvx2()) return {};
  GroupKernels k;
  k.head_dim_multiple = kLanes;
  k.convert = Convert;
  k.score = Score;
  k.softmax = Softmax;
  k.accumulate = Accumulate;
  k.score_f16 = ScoreF16;
  k.accumulate_f16 = AccumulateF16;
  // Up to 64 dims, where Accumulate reads each row whole. Above, its passes would read half a
  // line of every f16 row per pass: 128 dims from DRAM measured 590 µs against converting's 535.
  k.f16_max_head_dim = 8 * kLanes;
  k.exp_row = ExpRow;
  return k;
}

}  // namespace kvik::attention
