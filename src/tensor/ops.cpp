// Element-wise and normalisation kernels: the scalar references (plain loops in a fixed order) and
// the public entry points, which pick the AVX-512 versions when kvik's selected ISA is AVX-512.
#include <cmath>
#include <utility>
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

// cos/sin of every rotated pair's angle, per position, computed once per thread: decode rotates q
// and k of every layer at the same position (24 calls per token on a 12-layer model), and prefill
// rotates each layer's rows at the same positions again, so a pow and a sin/cos per pair per call
// (1.5% of stories15M's pp128 profile) become one per position. Direct-mapped by position: a
// prefill chunk of up to kSlots rows never evicts its own positions.
class RopeTables {
 public:
  // The cos and sin of `position`'s pairs (dim / 2 each).
  std::pair<const float*, const float*> Get(int64_t position, int64_t dim, float base) {
    if (dim != rope_dim_ || base != freq_base_) {
      rope_dim_ = dim;
      freq_base_ = base;
      positions_.assign(kSlots, -1);
      cos_.assign(kSlots * (dim / 2), 0.0f);
      sin_.assign(kSlots * (dim / 2), 0.0f);
    }
    // Context shift re-rotates keys by a negative position, hence the non-negative remainder.
    const int64_t slot = (position % kSlots + kSlots) % kSlots, pairs = dim / 2;
    float* c = cos_.data() + slot * pairs;
    float* s = sin_.data() + slot * pairs;
    if (positions_[slot] != position) {
      for (int64_t i = 0; i < dim; i += 2) {
        // theta_i = pos * base^(-i/rope_dim) (RoFormer, Su et al. 2021), computed in double so the
        // angle is accurate at long positions, then rounded once.
        const double angle = static_cast<double>(position) *
                             std::pow(static_cast<double>(base), -static_cast<double>(i) / dim);
        c[i / 2] = static_cast<float>(std::cos(angle));
        s[i / 2] = static_cast<float>(std::sin(angle));
      }
      positions_[slot] = position;
    }
    return {c, s};
  }

 private:
  static constexpr int64_t kSlots = 1024;
  int64_t rope_dim_ = 0;
  float freq_base_ = 0;
  std::vector<int64_t> positions_;
  std::vector<float> cos_, sin_;
};

}  // namespace

void RopeInPlace(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, int64_t pos,
                 float freq_base) {
  thread_local RopeTables tables;
  const auto [cos_row, sin_row] = tables.Get(pos, rope_dim, freq_base);
  for (int64_t i = 0; i < rope_dim; i += 2) {
    const float c = cos_row[i / 2], s = sin_row[i / 2];
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

namespace {

template <kernels::Prefetch kP>
float StreamSumWith(const float* x, int64_t n) {
  // 32 lanes = 8 SSE adds in flight: with 8 lanes (two chains of 3-cycle adds) one thread could sum
  // only ~11 bytes per cycle, about what one core's share of the memory delivers.
  constexpr int kLanes = 32;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    kernels::PrefetchAhead<kP>(x + i);
    kernels::PrefetchAhead<kP>(x + i + 16);
    for (int k = 0; k < kLanes; ++k) lanes[k] += x[i + k];
  }
  float sum = 0;
  for (; i < n; ++i) sum += x[i];
  for (float lane : lanes) sum += lane;
  return sum;
}

}  // namespace

float StreamSum(const float* x, int64_t n) {
  // The probe reads as the weight kernels do, prefetching where they do: a ceiling they can beat
  // is no ceiling (without it, a plain read of small-q8_0's 103 MiB ran at 39.8 GB/s on a Xeon
  // where Q8_0 decode read the same bytes at 48 GB/s).
  return kernels::SelectedPrefetch() == kernels::Prefetch::kAhead
             ? StreamSumWith<kernels::Prefetch::kAhead>(x, n)
             : StreamSumWith<kernels::Prefetch::kOff>(x, n);
}

}  // namespace kvik
