// Per-ISA dot-product kernels: row (stored type) · x (f32). Internal to src/tensor.
#pragma once

#include <cstdint>

#include "kvik/dtype.h"

namespace kvik::kernels {

using DotFn = float (*)(const uint8_t* row, const float* x, int64_t n);

// nullptr for types without kernels.
DotFn ScalarDot(DType type);
// nullptr when the CPU lacks AVX2+FMA+F16C or the type has no AVX2 kernel.
DotFn Avx2Dot(DType type);
bool CpuHasAvx2();

}  // namespace kvik::kernels
