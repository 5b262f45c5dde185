// Per-ISA dot-product kernels: row (stored type) · x (f32). Internal to src/tensor.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "kvik/dtype.h"

#include "kvik/tensor.h"
#include "tensor/stream_prefetch.h"

namespace kvik {
class ThreadPool;
}  // namespace kvik

namespace kvik::kernels {

using DotFn = float (*)(const uint8_t* row, const float* x, int64_t n);
// out[t * out_stride] = row · x[t * x_stride ...] for the kernel's fixed number of tokens; each
// result is bit-identical to the same ISA's DotFn on that token alone.
using DotTokensFn = void (*)(const uint8_t* row, const float* x, int64_t x_stride, int64_t n,
                             float* out, int64_t out_stride);
// The largest token count a DotTokensFn handles (register blocking of MatMul).
constexpr int kMaxTokensPerKernel = 4;

// Defines `RESULT FN(int n_tokens)`, returning KERNEL<ARGS..., n_tokens> for 1..4 tokens (the
// 4-token instantiation for more): how each kernel set hands MatMul its token-batched kernels.
#define KVIK_TOKEN_TABLE(FN, RESULT, KERNEL, ...)                       \
  RESULT FN(int n_tokens) {                                             \
    static_assert(::kvik::kernels::kMaxTokensPerKernel == 4);           \
    switch (n_tokens) {                                                 \
      case 1: return KERNEL<__VA_OPT__(__VA_ARGS__, ) 1>;               \
      case 2: return KERNEL<__VA_OPT__(__VA_ARGS__, ) 2>;               \
      case 3: return KERNEL<__VA_OPT__(__VA_ARGS__, ) 3>;               \
      default: return KERNEL<__VA_OPT__(__VA_ARGS__, ) 4>;              \
    }                                                                   \
  }
// out[t * out_stride + r] = row r · x_t for the kernel set's rows_per_kernel rows `row_bytes`
// apart and the kernel's fixed number of tokens; each result bit-identical to the same ISA's DotFn
// on that row and token.
using DotRowsTokensFn = void (*)(const uint8_t* rows, int64_t row_bytes, const float* x,
                                 int64_t x_stride, int64_t n, float* out, int64_t out_stride);
constexpr int kRowsPerKernel = 2;  // rows_per_kernel unless a set says otherwise

// 32 activations rounded to int8 steps of one f32 scale d (x ≈ d · q), plus a second int8 step of
// d / 256 for what q leaves (x ≈ d · (q + r / 256), i.e. 16-bit precision), for weight types
// multiplied in integers (dot_q4_0.cpp uses q, dot_q8_0.cpp q and r). The biases fold the
// weights' stored offsets into the integer sums: Q4_0 stores w + 8, Q8_0 (interleaved) w + 128.
struct alignas(16) Q8Act {
  int8_t q[32];
  int8_t r[32];
  int16_t v[32];    // 256 · q + r, for kernels that multiply in 16 bits (AVX2 Q8_0)
  float d;
  int32_t bias;     // −8 · Σ q
  int32_t bias_q8;  // −128 · Σ v
};
// Rounds x (n a multiple of 32) to n / 32 blocks; the same bytes on every CPU (AVX2 when the
// selected ISA has it, else the scalar reference).
void QuantizeActivations(const float* x, int64_t n, Q8Act* out);
void QuantizeActivationsScalar(const float* x, int64_t n, Q8Act* out);
// DotTokensFn over rounded activations: x rows are `x_stride` blocks apart.
using DotQ8TokensFn = void (*)(const uint8_t* row, const Q8Act* x, int64_t x_stride, int64_t n,
                               float* out, int64_t out_stride);
// out[t * out_stride + r] = row r · x_t for the 16 rows of one interleaved group (the layout of
// interleaved_layout.h) and the kernel's fixed number of tokens.
using DotQ8GroupTokensFn = void (*)(const uint8_t* group, const Q8Act* x, int64_t x_stride,
                                    int64_t n, float* out, int64_t out_stride);

struct KernelSet {
  DotFn dot = nullptr;
  // Kernel for 1..kMaxTokensPerKernel tokens (an argument above the maximum gets the maximum);
  // nullptr when the ISA has no token-batched kernels (MatMul then calls `dot` per token).
  DotTokensFn (*dot_tokens)(int n_tokens) = nullptr;
  // Kernel for rows_per_kernel rows × 1..kMaxTokensPerKernel tokens (rows share each load of x);
  // nullptr when the ISA has none.
  DotRowsTokensFn (*dot_rows_tokens)(int n_tokens) = nullptr;
  // Set for types multiplied against rounded activations (Q4_0, Q8_0): MatMul rounds each x row once
  // with QuantizeActivations and calls these per weight row (row-major rows) or per group of 16
  // (interleaved rows); `dot` rounds x itself, then runs the one-token kernel. Every ISA's kernels,
  // row-major or interleaved, give the scalar reference's bits.
  DotQ8TokensFn (*dot_q8_tokens)(int n_tokens) = nullptr;
  DotQ8GroupTokensFn (*dot_q8_group_tokens)(int n_tokens) = nullptr;
  // Rows per dot_rows_tokens call: as many as its accumulators fit in registers.
  int rows_per_kernel = kRowsPerKernel;
};

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
std::string_view IsaName(Isa isa);

// nullptr for types without kernels.
DotFn ScalarDot(DType type);
// The scalar kernels of `type` (for Q4_0 and Q8_0 including the rounded-activation ones).
KernelSet ScalarKernels(DType type);
// The SIMD kernel sets take a Prefetch (stream_prefetch.h): with kAhead the kernels that stream
// weight rows also request each line kPrefetchAheadBytes ahead. Both variants give the same bits.
//
// Q4_0 against rounded activations: scalar (the reference), AVX2, and AVX-512 VNNI (which falls
// back to AVX2 on AVX-512 CPUs without VNNI). Only the interleaved-group kernels differ between
// them; row-major rows (DotRow, the rows after the last full group) take the scalar kernel. Empty
// when the CPU lacks the ISA.
KernelSet ScalarQ4_0Kernels();
KernelSet Avx2Q4_0Kernels(Prefetch prefetch);
KernelSet Avx512Q4_0Kernels(Prefetch prefetch);
// The same for Q8_0 against rounded activations with their 16-bit residual (dot_q8_0.cpp).
KernelSet ScalarQ8_0Kernels();
KernelSet Avx2Q8_0Kernels(Prefetch prefetch);
KernelSet Avx512Q8_0Kernels(Prefetch prefetch);
// Empty when the CPU lacks AVX2+FMA+F16C or the type has no AVX2 kernel.
KernelSet Avx2Kernels(DType type, Prefetch prefetch);
bool CpuHasAvx2();
// Empty when the CPU (or OS) lacks AVX-512 F/BW/VL or the type has no AVX-512 kernel.
KernelSet Avx512Kernels(DType type, Prefetch prefetch);
bool CpuHasAvx512();

// The best ISA this CPU runs, lowered to $KVIK_ISA (scalar|avx2|avx512) when that names a lower
// one. Decided once per process.
Isa SelectedIsa();
// Whether the streaming kernels prefetch: $KVIK_PREFETCH=0 or 1 when set, else kAhead on Intel
// CPUs and kOff on others (stream_prefetch.h says why). Decided once per process.
Prefetch SelectedPrefetch();
// The kernels of `isa` for `type` (falling back to lower ISAs for what `isa` lacks); `dot` is
// nullptr only for types without any kernel. `isa` must be supported by this CPU. The scalar
// kernels, the reference, never prefetch.
KernelSet KernelsFor(Isa isa, DType type, Prefetch prefetch);

// MatMul with the given kernels instead of the selected ones (tests compare ISAs in one process).
void MatMulWith(const KernelSet& kernels, const MatrixView& w, const float* x, int64_t n_tokens,
                float* y, ThreadPool* pool);
// MatMulShared with given kernels per matrix.
struct MatMulTargetWith {
  const KernelSet* kernels = nullptr;
  MatrixView w;
  float* y = nullptr;
};
void MatMulTargets(std::span<const MatMulTargetWith> targets, const float* x, int64_t n_tokens,
                   ThreadPool* pool);

}  // namespace kvik::kernels
