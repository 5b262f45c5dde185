// Scalar reference dot products. Plain loops, accumulated in f32 in index order.
#include <cstring>

#include "tensor/dot_kernels.h"
#include "util/half.h"

namespace kvik::kernels {
namespace {

float DotF32(const uint8_t* row, const float* x, int64_t n) {
  const float* w = reinterpret_cast<const float*>(row);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

float DotF16(const uint8_t* row, const float* x, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += F16ToF32(Load16(row + 2 * i)) * x[i];
  return sum;
}

float DotBf16(const uint8_t* row, const float* x, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += Bf16ToF32(Load16(row + 2 * i)) * x[i];
  return sum;
}

}  // namespace

DotFn ScalarDot(DType type) {
  switch (type) {
    case DType::kF32: return DotF32;
    case DType::kF16: return DotF16;
    case DType::kBF16: return DotBf16;
    case DType::kQ8_0: return ScalarQ8_0Kernels().dot;
    case DType::kQ4_0: return ScalarQ4_0Kernels().dot;
    default: return nullptr;
  }
}

KernelSet ScalarKernels(DType type) {
  if (type == DType::kQ4_0) return ScalarQ4_0Kernels();
  if (type == DType::kQ8_0) return ScalarQ8_0Kernels();
  return {ScalarDot(type), nullptr};
}

}  // namespace kvik::kernels
