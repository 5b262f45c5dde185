// Element-wise and normalisation kernels: the scalar references (plain loops in a fixed order) and
// the public entry points, which pick the AVX-512 versions when kvik's selected ISA is AVX-512.
#include <cmath>
#include <vector>

#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "tensor/op_kernels.h"

namespace kvik {
namespace kernels {

void RmsNormScalar(float* out, const float* x, const float* weight, int64_t n, float eps) {
  float sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) sum_squares += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(sum_squares / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void SoftmaxScalar(float* x, int64_t n) {
  float max_value = x[0];
  for (int64_t i = 1; i < n; ++i) max_value = std::fmax(max_value, x[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void SwiGluScalar(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace kernels

namespace {

bool UseAvx512() {
  static const bool use = kernels::SelectedIsa() == kernels::Isa::kAvx512;
  return use;
}

}  // namespace

void RmsNorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  if (UseAvx512()) return kernels::RmsNormAvx512(out, x, weight, n, eps);
  kernels::RmsNormScalar(out, x, weight, n, eps);
}

void SoftmaxInPlace(float* x, int64_t n) {
  if (UseAvx512()) return kernels::SoftmaxAvx512(x, n);
  kernels::SoftmaxScalar(x, n);
}

void SwiGluInPlace(float* gate, const float* up, int64_t n) {
  if (UseAvx512()) return kernels::SwiGluAvx512(gate, up, n);
  kernels::SwiGluScalar(gate, up, n);
}

namespace {

// cos/sin of every rotated pair's angle at one position. Decode rotates q and k of every layer at
// the same position (24 calls per token on a 12-layer model), so the last position's table is kept
// per thread instead of recomputing a pow and a sin/cos per pair per call.
struct RopeTable {
  int64_t pos = -1, rope_dim = 0;
  float freq_base = 0;
  std::vector<float> cos, sin;

  void Fill(int64_t position, int64_t dim, float base) {
    if (position == pos && dim == rope_dim && base == freq_base) return;
    cos.resize(dim / 2);
    sin.resize(dim / 2);
    for (int64_t i = 0; i < dim; i += 2) {
      // theta_i = pos * base^(-i/rope_dim) (RoFormer, Su et al. 2021), computed in double so the
      // angle is accurate at long positions, then rounded once.
      const double angle = static_cast<double>(position) *
                           std::pow(static_cast<double>(base), -static_cast<double>(i) / dim);
      cos[i / 2] = static_cast<float>(std::cos(angle));
      sin[i / 2] = static_cast<float>(std::sin(angle));
    }
    pos = position;
    rope_dim = dim;
    freq_base = base;
  }
};

}  // namespace

void RopeInPlace(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, int64_t pos,
                 float freq_base) {
  thread_local RopeTable table;
  table.Fill(pos, rope_dim, freq_base);
  for (int64_t i = 0; i < rope_dim; i += 2) {
    const float c = table.cos[i / 2], s = table.sin[i / 2];
    for (int64_t h = 0; h < n_heads; ++h) {
      float* pair = x + h * head_dim + i;
      const float a = pair[0], b = pair[1];
      pair[0] = a * c - b * s;
      pair[1] = a * s + b * c;
    }
  }
}

int32_t ArgMax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

float StreamSum(const float* x, int64_t n) {
  // 32 lanes = 8 SSE adds in flight: with 8 lanes (two chains of 3-cycle adds) one thread could sum
  // only ~11 bytes per cycle, about what one core's share of the memory delivers.
  constexpr int kLanes = 32;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lanes[k] += x[i + k];
  float sum = 0;
  for (; i < n; ++i) sum += x[i];
  for (float lane : lanes) sum += lane;
  return sum;
}

}  // namespace kvik
