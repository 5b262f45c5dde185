// AVX-512 (F + BW + VL) grouped-attention kernels: group_kernels_avx2.cpp with 16 lanes, 4 vectors
// (64 dims) of accumulators per head and pass, masks for the tile's tail, and scores computed 8
// keys × up to 3 heads at a time with one transposing reduction per head (up to 128 dims with the
// queries held in registers). head_dim must be a
// multiple of 16. Compiled with per-function target attributes; handed out after the CPUID/XCR0
// check.

// Before the includes, so inline helpers share the setting: a mul feeding an add must round twice,
// as in ExpReference (see group_kernels.h).
#pragma GCC optimize("fp-contract=off")

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "attention/group_kernels.h"
#include "attention/simd_exp.h"
#include "kvik/quantize.h"
#include "tensor/dot_kernels.h"

// GCC 12's avx512fintrin.h seeds some conversions with _mm512_undefined and then warns about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define KVIK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define KVIK_UNROLL _Pragma("GCC unroll 8")
#define KVIK_UNROLL_16 _Pragma("GCC unroll 16")

namespace kvik::attention {
namespace {

constexpr int kLanes = 16;

// How the score and accumulate kernels read 16 elements of a row: f32 rows in place, f16 rows
// converted as they are loaded. The conversion is exact, so both give Convert's values and the same
// bits; reading f16 rows directly saves writing each tile to scratch and reading it back.
struct F32Row {
  using Element = float;
  KVIK_AVX512 static __m512 Load(const float* row, int64_t i) { return _mm512_loadu_ps(row + i); }
};
struct F16Row {
  using Element = uint16_t;
  KVIK_AVX512 static __m512 Load(const uint16_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i)));
  }
};

KVIK_AVX512 inline __m512 Exp(__m512 x) { return Exp16(x); }

KVIK_AVX512 void ConvertRow(DType dtype, const uint8_t* row, int64_t n, float* dst) {
  if (dtype == DType::kF16) {
    for (int64_t i = 0; i < n; i += kLanes) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i));
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
    }
  } else if (dtype == DType::kBF16) {
    // bf16 is the top half of an f32: widening and shifting is exact.
    for (int64_t i = 0; i < n; i += kLanes) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i));
      _mm512_storeu_ps(dst + i,
                       _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
    }
  } else {
    DequantizeRow(dtype, row, n, dst);
  }
}

KVIK_AVX512 void Convert(DType dtype, const uint8_t* const* rows, int64_t count, int64_t n,
                         float* dst) {
  for (int64_t j = 0; j < count; ++j) ConvertRow(dtype, rows[j], n, dst + j * n);
}

// Lane j of the result = the sum of v[j]'s 16 lanes, j < 8, by the same tree for every j: within
// each 128-bit lane (e0 + e2) + (e1 + e3), then (L0 + L1) + (L2 + L3) across them. A transposing
// reduction: 24 shuffles and adds for 8 dot products instead of ~8 per _mm512_reduce_add_ps. Its
// first two levels reduce keys 0–3 and 4–7 separately (SumEach4Within128), so a caller may reduce
// each half as soon as its keys are scored.
KVIK_AVX512 inline __m512 SumEach4Within128(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  return _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
}

KVIK_AVX512 inline __m256 SumAcross128(__m512 u0, __m512 u1) {
  // Per 128-bit lane of u0 and u1: L0 + L1 and L2 + L3, then their sum.
  const __m512 v01 = _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_castps512_ps256(
      _mm512_add_ps(_mm512_shuffle_f32x4(v01, v01, _MM_SHUFFLE(2, 0, 2, 0)),
                    _mm512_shuffle_f32x4(v01, v01, _MM_SHUFFLE(3, 1, 3, 1))));
}

KVIK_AVX512 inline __m256 SumEach8(const __m512 (&v)[8]) {
  return SumAcross128(SumEach4Within128(v[0], v[1], v[2], v[3]),
                      SumEach4Within128(v[4], v[5], v[6], v[7]));
}

// acc[g][j] += rows[j][d + 16c] · q_g[d + 16c] for c < NV in that order, g < G, for the first
// `count` of 8 keys: each key's row is loaded once for all G heads, and its loads are spread
// between the heads' FMAs. (Scoring one head at a time loaded a tile's rows in one burst with
// little work between the loads, and from DRAM the keys were read well below a plain stream's
// rate; with this, decode attention went from a median 0.80 to 0.94 of the plain rate,
// bench/attention_bench BM_DecodeLayerVsPlainRead.)
template <int G, int NV>
KVIK_AVX512 __attribute__((always_inline)) inline void ScoreKeys(const float* const* rows,
                                                                 int64_t count, const float* q,
                                                                 int64_t n, int64_t d,
                                                                 __m512 (&acc)[3][8]) {
  KVIK_UNROLL
  for (int j = 0; j < 8; ++j) {
    if (j < count) {
      const float* k = rows[j] + d;
      KVIK_UNROLL
      for (int c = 0; c < NV; ++c) {
        const __m512 key = _mm512_loadu_ps(k + c * kLanes);
        KVIK_UNROLL
        for (int g = 0; g < G; ++g) {
          acc[g][j] = _mm512_fmadd_ps(key, _mm512_loadu_ps(q + g * n + d + c * kLanes), acc[g][j]);
        }
      }
    }
  }
}

// scores[g·kTile + j] = q_g · rows[j] for j < count ≤ 8 (0 past count), g < G ≤ 3. Each key's dot
// is one FMA chain over d and SumEach8's reduction tree, whatever its slot, count or G.
template <int G>
KVIK_AVX512 void ScoreHeads(const float* const* rows, int64_t count, const float* q, int64_t n,
                            float* scores) {
  __m512 acc[3][8];
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    KVIK_UNROLL
    for (int j = 0; j < 8; ++j) acc[g][j] = _mm512_setzero_ps();
  }
  int64_t d = 0;
  for (; d + 4 * kLanes <= n; d += 4 * kLanes) ScoreKeys<G, 4>(rows, count, q, n, d, acc);
  switch ((n - d) / kLanes) {
    case 3:
      ScoreKeys<G, 3>(rows, count, q, n, d, acc);
      break;
    case 2:
      ScoreKeys<G, 2>(rows, count, q, n, d, acc);
      break;
    case 1:
      ScoreKeys<G, 1>(rows, count, q, n, d, acc);
      break;
    default:
      break;
  }
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) _mm256_storeu_ps(scores + g * kTile, SumEach8(acc[g]));
}

// Score for rows of NV ≤ 8 vectors (up to 128 dims) and G heads, with the heads' queries held in
// registers (G·NV ≤ 16, loaded once per tile): each key row is loaded once per call, whole and in
// order, each of its lines feeding G FMAs, 4 keys at a time (G·NV query and G·4 dot vectors). Each
// half of 8 keys is reduced by SumEach8's tree as soon as it is scored, so every score has
// ScoreHeads' bits.
template <int G, int NV, typename Row>
KVIK_AVX512 void ScoreHeadsInRegisters(const typename Row::Element* const* rows, int64_t count,
                                       const float* q, float* scores) {
  static_assert(G * NV <= 16);
  __m512 qv[G][NV];
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) qv[g][c] = _mm512_loadu_ps(q + g * NV * kLanes + c * kLanes);
  }
  for (int64_t first = 0; first < count; first += 8) {
    __m512 half[2][G];
    KVIK_UNROLL
    for (int h = 0; h < 2; ++h) {
      __m512 acc[G][4];
      KVIK_UNROLL
      for (int g = 0; g < G; ++g) {
        KVIK_UNROLL
        for (int j = 0; j < 4; ++j) acc[g][j] = _mm512_setzero_ps();
      }
      KVIK_UNROLL
      for (int j = 0; j < 4; ++j) {
        if (first + 4 * h + j < count) {
          const typename Row::Element* k = rows[first + 4 * h + j];
          KVIK_UNROLL
          for (int c = 0; c < NV; ++c) {
            const __m512 key = Row::Load(k, c * kLanes);
            KVIK_UNROLL
            for (int g = 0; g < G; ++g) acc[g][j] = _mm512_fmadd_ps(key, qv[g][c], acc[g][j]);
          }
        }
      }
      KVIK_UNROLL
      for (int g = 0; g < G; ++g) {
        half[h][g] = SumEach4Within128(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
      }
    }
    KVIK_UNROLL
    for (int g = 0; g < G; ++g) {
      _mm256_storeu_ps(scores + g * kTile + first, SumAcross128(half[0][g], half[1][g]));
    }
  }
}

// All heads through ScoreHeadsInRegisters, up to kMaxG at a time.
template <int NV, int kMaxG, typename Row>
KVIK_AVX512 void ScoreInRegisters(const typename Row::Element* const* rows, int64_t count,
                                  const float* q, int64_t n_heads, float* scores) {
  constexpr int64_t n = NV * kLanes;
  for (int64_t g = 0; g < n_heads;) {
    const float* qg = q + g * n;
    float* out = scores + g * kTile;
    const int64_t left = n_heads - g;
    if (left == 1) {
      ScoreHeadsInRegisters<1, NV, Row>(rows, count, qg, out);
      g += 1;
    } else if (left == 2 || kMaxG == 2) {
      ScoreHeadsInRegisters<2, NV, Row>(rows, count, qg, out);
      g += 2;
    } else {
      ScoreHeadsInRegisters<kMaxG, NV, Row>(rows, count, qg, out);
      g += kMaxG;
    }
  }
}

// Rows of up to 128 dims: true when scored. (Longer f32 rows go to ScoreHeads' 64-dim slices.)
template <typename Row>
KVIK_AVX512 bool ScoreInRegistersFor(const typename Row::Element* const* rows, int64_t count,
                                     const float* q, int64_t n_heads, int64_t n, float* scores) {
  // Heads of up to 128 dims keep their queries in registers (3 heads a pass up to 64 dims, 2
  // above); longer rows fall back to ScoreHeads' 64-dim slices.
  switch (n / kLanes) {
    case 1:
      ScoreInRegisters<1, 3, Row>(rows, count, q, n_heads, scores);
      return true;
    case 2:
      ScoreInRegisters<2, 3, Row>(rows, count, q, n_heads, scores);
      return true;
    case 3:
      ScoreInRegisters<3, 3, Row>(rows, count, q, n_heads, scores);
      return true;
    case 4:
      ScoreInRegisters<4, 3, Row>(rows, count, q, n_heads, scores);
      return true;
    case 5:
      ScoreInRegisters<5, 2, Row>(rows, count, q, n_heads, scores);
      return true;
    case 6:
      ScoreInRegisters<6, 2, Row>(rows, count, q, n_heads, scores);
      return true;
    case 7:
      ScoreInRegisters<7, 2, Row>(rows, count, q, n_heads, scores);
      return true;
    case 8:
      ScoreInRegisters<8, 2, Row>(rows, count, q, n_heads, scores);
      return true;
    default:
      return false;
  }
}

KVIK_AVX512 void Score(const float* const* rows, int64_t count, const float* q, int64_t n_heads,
                       int64_t n, float* scores) {
  if (ScoreInRegistersFor<F32Row>(rows, count, q, n_heads, n, scores)) return;
  for (int64_t first = 0; first < count; first += 8) {
    const int64_t keys = std::min<int64_t>(8, count - first);
    for (int64_t g = 0; g < n_heads;) {
      const float* qg = q + g * n;
      float* out = scores + g * kTile + first;
      switch (n_heads - g) {
        case 1:
          ScoreHeads<1>(rows + first, keys, qg, n, out);
          g += 1;
          break;
        case 2:
          ScoreHeads<2>(rows + first, keys, qg, n, out);
          g += 2;
          break;
        default:
          ScoreHeads<3>(rows + first, keys, qg, n, out);
          g += 3;
          break;
      }
    }
  }
}

// Softmax for G ≤ 3 heads, unrolled so that their steps interleave: each head's step is one long
// dependency chain (max, exp, sum), and run one head after another they left the FP units mostly
// idle, a fifth of decode attention's time from cache (perf, bench/attention_bench).
template <int G>
KVIK_AVX512 __attribute__((always_inline)) inline void SoftmaxHeads(float* scores, __mmask16 valid0,
                                                                    __mmask16 valid1, float scale,
                                                                    float* max, float* sum,
                                                                    float* rescale) {
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  const __m512 scale_v = _mm512_set1_ps(scale);
  __m512 s0[G], s1[G], p0[G], p1[G];
  float tile_max[G];
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    const float* sg = scores + g * kTile;
    s0[g] = _mm512_mask_mul_ps(neg_inf, valid0, _mm512_loadu_ps(sg), scale_v);
    s1[g] = _mm512_mask_mul_ps(neg_inf, valid1, _mm512_loadu_ps(sg + kLanes), scale_v);
    tile_max[g] =
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_set1_ps(max[g]), _mm512_max_ps(s0[g], s1[g])));
  }
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    const __m512 mv = _mm512_set1_ps(tile_max[g]);
    p0[g] = Exp(_mm512_sub_ps(s0[g], mv));
    p1[g] = Exp(_mm512_sub_ps(s1[g], mv));
  }
  KVIK_UNROLL
  for (int g = 0; g < G; ++g) {
    rescale[g] = MaxUnchanged(max[g], tile_max[g])
                     ? 1.0f
                     : _mm512_cvtss_f32(Exp(_mm512_set1_ps(max[g] - tile_max[g])));
    float* sg = scores + g * kTile;
    _mm512_storeu_ps(sg, p0[g]);
    _mm512_storeu_ps(sg + kLanes, p1[g]);
    sum[g] = sum[g] * rescale[g] + _mm512_reduce_add_ps(_mm512_add_ps(p0[g], p1[g]));
    max[g] = tile_max[g];
  }
}

KVIK_AVX512 void Softmax(float* scores, int64_t count, int64_t n_heads, float scale, float* max,
                         float* sum, float* rescale) {
  static_assert(kTile == 2 * kLanes);
  const uint32_t valid = count >= kTile ? ~0u : (1u << count) - 1;
  const __mmask16 valid0 = static_cast<__mmask16>(valid),
                  valid1 = static_cast<__mmask16>(valid >> 16);
  for (int64_t g = 0; g < n_heads;) {
    float* sg = scores + g * kTile;
    switch (n_heads - g) {
      case 1:
        SoftmaxHeads<1>(sg, valid0, valid1, scale, max + g, sum + g, rescale + g);
        g += 1;
        break;
      case 2:
        SoftmaxHeads<2>(sg, valid0, valid1, scale, max + g, sum + g, rescale + g);
        g += 2;
        break;
      default:
        SoftmaxHeads<3>(sg, valid0, valid1, scale, max + g, sum + g, rescale + g);
        g += 3;
        break;
    }
  }
}

// a[g][c] = acc_g[d + 16c] · rescale[g]: each head's accumulator, rescaled for the new tile.
template <int NG, int NV>
KVIK_AVX512 __attribute__((always_inline)) inline void LoadRescaled(const float* acc,
                                                                    const float* rescale, int64_t n,
                                                                    int64_t d,
                                                                    __m512 (&a)[NG][NV]) {
  KVIK_UNROLL
  for (int g = 0; g < NG; ++g) {
    const __m512 r = _mm512_set1_ps(rescale[g]);
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) {
      a[g][c] = _mm512_mul_ps(_mm512_loadu_ps(acc + g * n + d + c * kLanes), r);
    }
  }
}

template <int NG, int NV>
KVIK_AVX512 __attribute__((always_inline)) inline void StoreAccumulators(const __m512 (&a)[NG][NV],
                                                                         int64_t n, int64_t d,
                                                                         float* acc) {
  KVIK_UNROLL
  for (int g = 0; g < NG; ++g) {
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(acc + g * n + d + c * kLanes, a[g][c]);
  }
}

// NG heads × NV vectors of 16 dims starting at `d`: the accumulators stay in registers across the
// tile's keys (NG·NV + NV + 1 ≤ 32 zmm registers).
template <int NG, int NV, typename Row>
KVIK_AVX512 void AccumulateBlock(const typename Row::Element* const* rows, int64_t count,
                                 const float* p, const float* rescale, int64_t n, int64_t d,
                                 float* acc) {
  __m512 a[NG][NV];
  LoadRescaled(acc, rescale, n, d, a);
  for (int64_t j = 0; j < count; ++j) {
    __m512 v[NV];
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) v[c] = Row::Load(rows[j], d + c * kLanes);
    KVIK_UNROLL
    for (int g = 0; g < NG; ++g) {
      const __m512 pj = _mm512_set1_ps(p[g * kTile + j]);
      KVIK_UNROLL
      for (int c = 0; c < NV; ++c) a[g][c] = _mm512_fmadd_ps(pj, v[c], a[g][c]);
    }
  }
  StoreAccumulators(a, n, d, acc);
}

template <int NV, typename Row>
KVIK_AVX512 void AccumulateHeads(const typename Row::Element* const* rows, int64_t count,
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

// AccumulateBlock for NG ≤ 3 heads and rows of exactly NV vectors, read whole, one after another:
// one value vector at a time, so NG·NV + NG + 1 ≤ 28 zmm registers for NV = 8 (128 dims). Each
// accumulator sees the same FMAs in the same order as in AccumulateBlock's 64-dim passes.
template <int NG, int NV, typename Row>
KVIK_AVX512 void AccumulateWholeRows(const typename Row::Element* const* rows, int64_t count,
                                     const float* p, const float* rescale, int64_t n, float* acc) {
  __m512 a[NG][NV];
  LoadRescaled(acc, rescale, n, 0, a);
  for (int64_t j = 0; j < count; ++j) {
    __m512 pj[NG];
    KVIK_UNROLL
    for (int g = 0; g < NG; ++g) pj[g] = _mm512_set1_ps(p[g * kTile + j]);
    KVIK_UNROLL
    for (int c = 0; c < NV; ++c) {
      const __m512 v = Row::Load(rows[j], c * kLanes);
      KVIK_UNROLL
      for (int g = 0; g < NG; ++g) a[g][c] = _mm512_fmadd_ps(pj[g], v, a[g][c]);
    }
  }
  StoreAccumulators(a, n, 0, acc);
}

template <typename Row>
KVIK_AVX512 void AccumulateRows(const typename Row::Element* const* rows, int64_t count,
                                const float* p, const float* rescale, int64_t n_heads, int64_t n,
                                float* acc) {
  // Rows of 128 dims are read whole, up to 3 heads a pass (a second pass for more heads finds the
  // tile in L1): reading the first 64 dims of the tile's rows and then the rest took a third longer
  // from DRAM (bench/attention_bench BM_DecodeLayer<Kernel::kGroup>/0/16, KVIK_BENCH_HEAD_DIM=128).
  if (n == 8 * kLanes) {
    for (int64_t g = 0; g < n_heads;) {
      const float* pg = p + g * kTile;
      float* ag = acc + g * n;
      switch (n_heads - g) {
        case 1:
          AccumulateWholeRows<1, 8, Row>(rows, count, pg, rescale + g, n, ag);
          g += 1;
          break;
        case 2:
          AccumulateWholeRows<2, 8, Row>(rows, count, pg, rescale + g, n, ag);
          g += 2;
          break;
        default:
          AccumulateWholeRows<3, 8, Row>(rows, count, pg, rescale + g, n, ag);
          g += 3;
          break;
      }
    }
    return;
  }
  // 64 dims (four 64-byte lines of an f32 row) per pass over the tile's rows.
  int64_t d = 0;
  for (; d + 4 * kLanes <= n; d += 4 * kLanes) {
    AccumulateHeads<4, Row>(rows, count, p, rescale, n_heads, n, d, acc);
  }
  switch ((n - d) / kLanes) {
    case 3:
      AccumulateHeads<3, Row>(rows, count, p, rescale, n_heads, n, d, acc);
      break;
    case 2:
      AccumulateHeads<2, Row>(rows, count, p, rescale, n_heads, n, d, acc);
      break;
    case 1:
      AccumulateHeads<1, Row>(rows, count, p, rescale, n_heads, n, d, acc);
      break;
    default:
      break;
  }
}

KVIK_AVX512 void Accumulate(const float* const* rows, int64_t count, const float* p,
                            const float* rescale, int64_t n_heads, int64_t n, float* acc) {
  AccumulateRows<F32Row>(rows, count, p, rescale, n_heads, n, acc);
}

// Only called for n ≤ f16_max_head_dim (128), which ScoreInRegistersFor always scores.
KVIK_AVX512 void ScoreF16(const uint16_t* const* rows, int64_t count, const float* q,
                          int64_t n_heads, int64_t n, float* scores) {
  ScoreInRegistersFor<F16Row>(rows, count, q, n_heads, n, scores);
}

KVIK_AVX512 void AccumulateF16(const uint16_t* const* rows, int64_t count, const float* p,
                               const float* rescale, int64_t n_heads, int64_t n, float* acc) {
  AccumulateRows<F16Row>(rows, count, p, rescale, n_heads, n, acc);
}

KVIK_AVX512 void ExpRow(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(y + i, Exp(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, tail, Exp(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

}  // namespace

GroupKernels Avx512GroupKernels() {
  if (!kernels::CpuHasAvx512()) return {};
  GroupKernels k;
  k.head_dim_multiple = kLanes;
  k.convert = Convert;
  k.score = Score;
  k.softmax = Softmax;
  k.accumulate = Accumulate;
  k.score_f16 = ScoreF16;
  k.accumulate_f16 = AccumulateF16;
  k.f16_max_head_dim = 8 * kLanes;
  k.exp_row = ExpRow;
  return k;
}

}  // namespace kvik::attention
