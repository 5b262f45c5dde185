// What the integer kernels (dot_q4_0.cpp, dot_q8_0.cpp) share. Internal to src/tensor.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/dot_kernels.h"
#include "tensor/scratch.h"

namespace kvik::kernels::integer_dot {

inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
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
};

inline bool CpuHasAvx512Vnni() {
  __builtin_cpu_init();
  return CpuHasAvx512() && __builtin_cpu_supports("avx512vnni");
}

}  // namespace kvik::kernels::integer_dot
