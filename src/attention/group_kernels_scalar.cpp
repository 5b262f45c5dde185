// Baseline (x86-64-v2, any CPU) grouped-attention kernels and the reference exp every vector exp
// matches bit for bit. Plain loops: no FMA exists here, and the compiler may not reassociate the
// dot products' sums, so each is the sequential sum over d.

// Before the includes, so inline helpers share the setting: a mul feeding an add must round twice,
// exactly as in the vector files (see group_kernels.h).
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "attention/group_kernels.h"
#include "attention/simd_exp.h"
#include "kvik/quantize.h"

namespace kvik::attention {
namespace {

using namespace exp_constants;

inline float PowerOfTwo(int32_t e) { return std::bit_cast<float>((e + 127) << 23); }

inline float Exp(float x) {
  if (x != x) return x;
  // The vector versions clamp with maxps/minps; these ternaries are the same selections.
  x = kLowest > x ? kLowest : x;
  x = kHighest < x ? kHighest : x;
  const float n = std::nearbyint(x * kLog2e);
  float r = x - n * kC1;
  r = r - n * kC2;
  const float z = r * r;
  float y = kP0;
  y = y * r + kP1;
  y = y * r + kP2;
  y = y * r + kP3;
  y = y * r + kP4;
  y = y * r + kP5;
  y = y * z + r;
  y = y + 1.0f;
  const int32_t e = static_cast<int32_t>(n);
  const int32_t e1 = e >> 1;  // floor(e / 2): both factors stay normal for e in [−150, 128]
  return y * PowerOfTwo(e1) * PowerOfTwo(e - e1);
}

void Convert(DType dtype, const uint8_t* const* rows, int64_t count, int64_t n, float* dst) {
  for (int64_t j = 0; j < count; ++j) DequantizeRow(dtype, rows[j], n, dst + j * n);
}

void Score(const float* const* rows, int64_t count, const float* q, int64_t n_heads, int64_t n,
           float* scores) {
  for (int64_t j = 0; j < count; ++j) {
    for (int64_t g = 0; g < n_heads; ++g) {
      const float* qg = q + g * n;
      float dot = 0;
      for (int64_t d = 0; d < n; ++d) dot += qg[d] * rows[j][d];
      scores[g * kTile + j] = dot;
    }
  }
}

void Softmax(float* scores, int64_t count, int64_t n_heads, float scale, float* max, float* sum,
             float* rescale) {
  for (int64_t g = 0; g < n_heads; ++g) {
    float* s = scores + g * kTile;
    float tile_max = max[g];
    for (int64_t j = 0; j < count; ++j) {
      s[j] *= scale;
      tile_max = std::max(tile_max, s[j]);
    }
    rescale[g] = MaxUnchanged(max[g], tile_max) ? 1.0f : Exp(max[g] - tile_max);
    float tile_sum = 0;
    for (int64_t j = 0; j < count; ++j) {
      s[j] = Exp(s[j] - tile_max);
      tile_sum += s[j];
    }
    std::fill(s + count, s + kTile, 0.0f);
    sum[g] = sum[g] * rescale[g] + tile_sum;
    max[g] = tile_max;
  }
}

void Accumulate(const float* const* rows, int64_t count, const float* p, const float* rescale,
                int64_t n_heads, int64_t n, float* acc) {
  for (int64_t g = 0; g < n_heads; ++g) {
    float* a = acc + g * n;
    for (int64_t d = 0; d < n; ++d) a[d] *= rescale[g];
    for (int64_t j = 0; j < count; ++j) {
      const float pj = p[g * kTile + j];
      const float* v = rows[j];
      for (int64_t d = 0; d < n; ++d) a[d] += pj * v[d];
    }
  }
}

void ExpRow(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = Exp(x[i]);
}

}  // namespace

float ExpReference(float x) { return Exp(x); }

GroupKernels ScalarGroupKernels() {
  GroupKernels k;
  k.head_dim_multiple = 1;
  k.convert = Convert;
  k.score = Score;
  k.softmax = Softmax;
  k.accumulate = Accumulate;
  k.exp_row = ExpRow;
  return k;
}

}  // namespace kvik::attention
