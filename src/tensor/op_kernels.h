// Per-ISA element-wise and normalisation kernels (RMSNorm, softmax, SwiGLU). Internal to
// src/tensor. Each vector kernel treats every element alike wherever it sits in the array (tails
// use masks, not a scalar loop), so an element's result never depends on the length of the call: a
// SwiGLU over n tokens gives each token what a one-token call gives it.
#pragma once

#include <cstdint>

namespace kvik::kernels {

// The plain-C++ references (also the fallback on CPUs without AVX-512).
void RmsNormScalar(float* out, const float* x, const float* weight, int64_t n, float eps);
void SoftmaxScalar(float* x, int64_t n);
void SwiGluScalar(float* gate, const float* up, int64_t n);

// AVX-512 versions; callable only when CpuHasAvx512().
void RmsNormAvx512(float* out, const float* x, const float* weight, int64_t n, float eps);
void SoftmaxAvx512(float* x, int64_t n);
void SwiGluAvx512(float* gate, const float* up, int64_t n);
// exp(x) for 16 lanes at once, within 2 ulp of std::exp (exposed for its test).
void ExpAvx512(const float* x, float* out, int64_t n);

}  // namespace kvik::kernels
