// What the integer kernels (dot_q4_0.cpp, dot_q8_0.cpp) share. Internal to src/tensor.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/dot_kernels.h"
#include "tensor/interleaved_layout.h"
#include "tensor/scratch.h"
#include "tensor/stream_prefetch.h"
#include "util/half.h"

namespace kvik::kernels::integer_dot {

inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// With kP, requests the lines of block b (its quants, and at the start of a pair the pair's scales:
// the group is one stream, interleaved_layout.h) kPrefetchAheadBytes ahead, as the kernel reaches
// them.
template <Prefetch kP>
inline void PrefetchBlockAhead(const uint8_t* scales, const uint8_t* quants, int64_t quant_bytes,
                               int64_t b) {
  if constexpr (kP == Prefetch::kAhead) {
    if (b % 2 == 0) PrefetchAhead<kP>(scales);
    PrefetchAheadSpan<kP>(quants, quant_bytes);
  }
}

// Four int8 steps starting at element 4j, as one int32 for a broadcast to every lane.
inline int32_t Quad(const int8_t* steps, int j) {
  int32_t v;
  std::memcpy(&v, steps + 4 * j, 4);
  return v;
}

// One block's contribution: the float operations every integer kernel runs, in this order, so all
// of them give the same bits (explicit fma: no compiler contraction can differ between them).
inline float Accumulate(float acc, int32_t block_sum, float d_w, float d_a) {
  return std::fma(static_cast<float>(block_sum) * d_w, d_a, acc);
}

// The scalar references of an integer type, from its exact block sums: RowSum(quants, a) of a
// row-major block, GroupSum(quants, i, a) of row i in a group's block. The result is the block
// accumulation times kScale (Q8_0's sums count steps of d / 256).
template <const interleaved::Format& kFormat, int32_t (*RowSum)(const uint8_t*, const Q8Act&),
          float kScale, int NT>
void RowScalarTokens(const uint8_t* row, const Q8Act* x, int64_t x_stride, int64_t n, float* out,
                     int64_t out_stride) {
  for (int t = 0; t < NT; ++t) {
    const Q8Act* xt = x + t * x_stride;
    float acc = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
      const uint8_t* block = row + b * kFormat.block_bytes;
      acc = Accumulate(acc, RowSum(block + 2, xt[b]), F16ToF32(Load16(block)), xt[b].d);
    }
    out[t * out_stride] = acc * kScale;
  }
}

template <const interleaved::Format& kFormat,
          int32_t (*GroupSum)(const uint8_t*, int, const Q8Act&), float kScale, int NT>
void GroupScalarTokens(const uint8_t* group, const Q8Act* x, int64_t x_stride, int64_t n,
                       float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  for (int t = 0; t < NT; ++t) {
    const Q8Act* xt = x + t * x_stride;
    for (int i = 0; i < interleaved::kGroupRows; ++i) {
      float acc = 0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const uint8_t* scales = interleaved::GroupScales(kFormat, group, b);
        const uint8_t* quants = interleaved::GroupQuants(kFormat, group, b);
        acc =
            Accumulate(acc, GroupSum(quants, i, xt[b]), F16ToF32(Load16(scales + 2 * i)), xt[b].d);
      }
      out[t * out_stride + i] = acc * kScale;
    }
  }
}

// The kernel sets of one integer type, built around its scalar row-major kernel for one token.
template <DotQ8TokensFn kRowOneToken>
struct IntegerKernels {
  // DotFn for one row-major row: round x, then the scalar kernel (what MatMul runs for such rows,
  // so the two agree).
  static float Dot(const uint8_t* row, const float* x, int64_t n) {
    Q8Act* blocks = ThreadScratch<Q8Act, IntegerKernels>(n / 32);
    QuantizeActivations(x, n, blocks);
    float out;
    kRowOneToken(row, blocks, 0, n, &out, 0);
    return out;
  }
  // Row-major rows always take the scalar kernels; an ISA differs only in its group kernels.
  static KernelSet Set(DotQ8TokensFn (*row_tokens)(int), DotQ8GroupTokensFn (*group_tokens)(int)) {
    return {Dot, nullptr, nullptr, row_tokens, group_tokens};
  }
  // A SIMD set: its group kernels with the streaming prefetch or without (stream_prefetch.h).
  static KernelSet Set(DotQ8TokensFn (*row_tokens)(int), DotQ8GroupTokensFn (*group_off)(int),
                       DotQ8GroupTokensFn (*group_ahead)(int), Prefetch prefetch) {
    return Set(row_tokens, prefetch == Prefetch::kAhead ? group_ahead : group_off);
  }
};

inline bool CpuHasAvx512Vnni() {
  __builtin_cpu_init();
  return CpuHasAvx512() && __builtin_cpu_supports("avx512vnni");
}

}  // namespace kvik::kernels::integer_dot
