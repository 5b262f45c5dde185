#include <cassert>

#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

// Chosen once per type on first use (CPU detection), never per element.
kernels::DotFn Dispatch(DType type) {
  static const kernels::DotFn table[] = {
      kernels::Avx2Dot(DType::kF32) ? kernels::Avx2Dot(DType::kF32) : kernels::ScalarDot(DType::kF32),
      kernels::Avx2Dot(DType::kF16) ? kernels::Avx2Dot(DType::kF16) : kernels::ScalarDot(DType::kF16),
      kernels::Avx2Dot(DType::kBF16) ? kernels::Avx2Dot(DType::kBF16) : kernels::ScalarDot(DType::kBF16),
      kernels::Avx2Dot(DType::kQ8_0) ? kernels::Avx2Dot(DType::kQ8_0) : kernels::ScalarDot(DType::kQ8_0),
      kernels::Avx2Dot(DType::kQ4_0) ? kernels::Avx2Dot(DType::kQ4_0) : kernels::ScalarDot(DType::kQ4_0),
  };
  switch (type) {
    case DType::kF32: return table[0];
    case DType::kF16: return table[1];
    case DType::kBF16: return table[2];
    case DType::kQ8_0: return table[3];
    case DType::kQ4_0: return table[4];
    default: return nullptr;
  }
}

// Rows per parallel chunk: enough work to amortise the hand-off, small enough to balance 2+ threads.
constexpr int64_t kRowGrain = 16;

}  // namespace

std::string_view KernelIsa() { return kernels::CpuHasAvx2() ? "avx2" : "scalar"; }

float DotRow(DType type, const uint8_t* row, const float* x, int64_t n) {
  return Dispatch(type)(row, x, n);
}

float DotRowScalar(DType type, const uint8_t* row, const float* x, int64_t n) {
  return kernels::ScalarDot(type)(row, x, n);
}

void MatVec(const MatrixView& w, const float* x, float* y, ThreadPool* pool) {
  MatMul(w, x, 1, y, pool);
}

void MatMul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool) {
  const kernels::DotFn dot = Dispatch(w.type);
  assert(dot && "MatMul: weight type has no kernel (the loader should have rejected it)");
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  // Each weight row is loaded once and applied to every token while it is hot in cache.
  auto rows_job = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const uint8_t* row = w.data + r * row_bytes;
      for (int64_t t = 0; t < n_tokens; ++t) y[t * w.rows + r] = dot(row, x + t * w.cols, w.cols);
    }
  };
  // Waking workers costs microseconds; below this many multiply-adds one thread is faster.
  constexpr int64_t kMinParallelWork = 1 << 16;
  if (pool && w.rows * w.cols * n_tokens >= kMinParallelWork) {
    pool->ParallelFor(w.rows, rows_job, kRowGrain);
  } else {
    rows_job(0, w.rows);
  }
}

}  // namespace kvik
