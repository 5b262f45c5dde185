// Per-ISA dot-product kernels: row (stored type) · x (f32). Internal to src/tensor.
#pragma once

#include <cstdint>
#include <string_view>

#include "kvik/dtype.h"

namespace kvik {
struct MatrixView;
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

struct KernelSet {
  DotFn dot = nullptr;
  // Kernel for 1..kMaxTokensPerKernel tokens (an argument above the maximum gets the maximum);
  // nullptr when the ISA has no token-batched kernels (MatMul then calls `dot` per token).
  DotTokensFn (*dot_tokens)(int n_tokens) = nullptr;
};

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
std::string_view IsaName(Isa isa);

// nullptr for types without kernels.
DotFn ScalarDot(DType type);
// Empty when the CPU lacks AVX2+FMA+F16C or the type has no AVX2 kernel.
KernelSet Avx2Kernels(DType type);
bool CpuHasAvx2();
// Empty when the CPU (or OS) lacks AVX-512 F/BW/VL or the type has no AVX-512 kernel.
KernelSet Avx512Kernels(DType type);
bool CpuHasAvx512();

// The best ISA this CPU runs, lowered to $KVIK_ISA (scalar|avx2|avx512) when that names a lower
// one. Decided once per process.
Isa SelectedIsa();
// The kernels of `isa` for `type` (falling back to lower ISAs for what `isa` lacks); `dot` is
// nullptr only for types without any kernel. `isa` must be supported by this CPU.
KernelSet KernelsFor(Isa isa, DType type);

// MatMul with the given kernels instead of the selected ones (tests compare ISAs in one process).
void MatMulWith(const KernelSet& kernels, const MatrixView& w, const float* x, int64_t n_tokens,
                float* y, ThreadPool* pool);

}  // namespace kvik::kernels
