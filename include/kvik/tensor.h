// Dense math kernels over weights stored as F32, F16, BF16, Q8_0 or Q4_0.
// The kernels are picked once per process from the CPU's features: AVX-512 (F+BW+VL), else
// AVX2+FMA+F16C, else scalar (the binary itself needs only x86-64-v2). The environment variable
//   KVIK_ISA=scalar|avx2|avx512
// forces a lower ISA than the CPU's best (for tests and benchmarks); a higher or unknown one is
// ignored. Every output element is one dot product computed by one thread in a fixed order, so
// results are identical for any thread count and for matrix-vector vs matrix-matrix calls; they may
// differ in the last bits between ISAs (F32, F16, BF16). Q4_0 and Q8_0 rows multiply x rounded to
// blocks of 32 steps of one f32 scale, in integers — Q4_0 to int8 steps (as llama.cpp's q8_0
// activations), Q8_0 to 16-bit steps — and give the same bits on every ISA; F32, F16 and BF16
// multiply x as is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string_view>
#include <vector>

#include "kvik/dtype.h"

namespace kvik {

class ThreadPool;

// Allocates on 64-byte boundaries (a cache line, one AVX-512 vector). MatMul copies activations
// that are not so aligned (vector loads straddling lines cost the batched kernels up to 40%), so
// the model's activation buffers use this to skip the copy (stories15M-f16 pp128: 10,235 → 10,846
// tok/s, medians of five alternated rounds).
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlignment); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

// How a matrix's rows are stored.
enum class RowLayout : uint8_t {
  kRowMajor,       // row r at data + r * RowBytes(type, cols), as in GGUF files
  kInterleaved16,  // Q4_0, Q8_0: groups of 16 rows interleaved block by block (InterleaveRows)
};

// A weight matrix: `rows` output features, each row `cols` elements of `type` (GGUF dims
// [cols, rows]).
struct MatrixView {
  DType type = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  RowLayout layout = RowLayout::kRowMajor;

  // Row-major layout only (see RowToFloats for any layout).
  const uint8_t* row(int64_t r) const { return data + r * RowBytes(type, cols); }
};

// Q4_0 and Q8_0 matrices multiply several times faster with their rows interleaved in groups of 16
// (src/tensor/interleaved_layout.h): one vector load then holds weights of 16 rows, which share
// each activation broadcast and need no per-row reductions. The bytes that layout takes for `w`, or
// 0 when `w` should stay row-major (another type, or fewer than 16 rows). At most 64 bytes per 16
// rows more than the row-major matrix.
int64_t InterleavedBytes(const MatrixView& w);
// Writes the row-major Q4_0 or Q8_0 matrix `w` to `out` interleaved (InterleavedBytes(w) bytes, 64-byte
// aligned) and returns the view of it. The values are the same, and so are MatMul's results.
MatrixView InterleaveRows(const MatrixView& w, uint8_t* out);
// Row r of w (any layout) as w.cols floats: embedding lookups.
void RowToFloats(const MatrixView& w, int64_t r, float* out);

// y[r] = W[r] · x for every row. x: cols floats; y: rows floats.
void MatVec(const MatrixView& w, const float* x, float* y, ThreadPool* pool);
// Y[t][r] = W[r] · X[t] for t in [0, n_tokens). X: (n_tokens, cols); Y: (n_tokens, rows),
// row-major. Bit-identical to n_tokens MatVec calls, and each element to DotRow(W[r], X[t]).
// Several tokens share each load of a weight row (register blocking), which is what makes prefill
// faster per token.
void MatMul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// One matrix of a MatMulShared: Y = W · X into y, (n_tokens, w.rows) row-major.
struct MatMulTarget {
  MatrixView w;
  float* y = nullptr;
};
// MatMul of several matrices with the same input width over the same x (the q/k/v and gate/up
// projections): the input is prepared once and the rows of up to 4 matrices are split over the
// threads in one pass, so decode pays one hand-off instead of one per matrix. Results equal
// MatMul's bit for bit.
void MatMulShared(std::span<const MatMulTarget> targets, const float* x, int64_t n_tokens,
                  ThreadPool* pool);

// Dot product of one stored row with f32 x (n elements); the dispatched kernel.
float DotRow(DType type, const uint8_t* row, const float* x, int64_t n);
// The plain-C++ reference every SIMD kernel is tested against.
float DotRowScalar(DType type, const uint8_t* row, const float* x, int64_t n);
// Which implementation DotRow uses in this process: "avx512", "avx2" or "scalar".
std::string_view KernelIsa();

// RmsNorm, SoftmaxInPlace and SwiGluInPlace are vectorised with AVX-512 when that ISA is selected
// (within a few ulp of the scalar loops); each element's result does not depend on n.
// out = x / sqrt(mean(x²) + eps) * weight.
void RmsNorm(float* out, const float* x, const float* weight, int64_t n, float eps);
// Rotates adjacent pairs (x[2i], x[2i+1]) of each of n_heads heads by angle pos · base^(-2i/rope_dim),
// for 2i < rope_dim (llama / GGUF "normal" RoPE).
void RopeInPlace(float* x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, int64_t pos,
                 float freq_base);
// In-place softmax over n values (max-subtracted).
void SoftmaxInPlace(float* x, int64_t n);
// Index of the largest of n values; the lowest index on ties (greedy decoding).
int32_t ArgMax(const float* x, int64_t n);
// Sum of n floats in 32 independent lanes: a pure streaming read, used to measure memory bandwidth
// (with the weight kernels' software prefetch where they use it).
float StreamSum(const float* x, int64_t n);
// gate[i] = silu(gate[i]) * up[i] (SwiGLU).
void SwiGluInPlace(float* gate, const float* up, int64_t n);

}  // namespace kvik
