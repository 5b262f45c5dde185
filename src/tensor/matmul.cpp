// MatVec / MatMul: one dot product per (row, token), rows split across threads. Every output
// element is computed by one kernel call whose arithmetic does not depend on the split or on how
// many tokens share the call, so results are bit-identical for any thread count and for MatMul vs
// MatVec.
#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "tensor/scratch.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

constexpr DType kComputable[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                                 DType::kQ4_0};

// Chosen once per type on first use (CPU detection + $KVIK_ISA), never per element.
const kernels::KernelSet& Dispatch(DType type) {
  static const auto table = [] {
    std::array<kernels::KernelSet, std::size(kComputable)> sets;
    for (size_t i = 0; i < sets.size(); ++i) {
      sets[i] = kernels::KernelsFor(kernels::SelectedIsa(), kComputable[i]);
    }
    return sets;
  }();
  static const kernels::KernelSet none;
  for (size_t i = 0; i < table.size(); ++i)
    if (kComputable[i] == type) return table[i];
  return none;
}

// Rows per parallel chunk: enough work to amortise the hand-off, small enough to balance 2+
// threads.
constexpr int64_t kRowGrain = 16;
// Rows per cache tile: every group of tokens passes over a tile before the next one is read.
// 16 rows (48 KiB of a 768-wide f32 matrix) measured as fast as 8 or 32 and faster than 4.
constexpr int64_t kRowTile = 16;

}  // namespace

std::string_view KernelIsa() { return kernels::IsaName(kernels::SelectedIsa()); }

float DotRow(DType type, const uint8_t* row, const float* x, int64_t n) {
  return Dispatch(type).dot(row, x, n);
}

float DotRowScalar(DType type, const uint8_t* row, const float* x, int64_t n) {
  return kernels::ScalarDot(type)(row, x, n);
}

void MatVec(const MatrixView& w, const float* x, float* y, ThreadPool* pool) {
  MatMul(w, x, 1, y, pool);
}

void MatMul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool) {
  kernels::MatMulWith(Dispatch(w.type), w, x, n_tokens, y, pool);
}

namespace kernels {
namespace {

constexpr int64_t kAlignFloats = 16;  // 64 bytes: one cache line, one AVX-512 vector

// Copies of x (aligned) and rounded activations go a chunk of tokens at a time through per-thread
// scratch of about this size.
constexpr int64_t kMaxScratchBytes = 1 << 20;
struct AlignedCopyOfX;
struct RoundedX;

// Splits rows over the pool (small products stay on the calling thread) and runs
// tile_job(begin, end) on each part.
template <typename TileJob>
void ForRows(const MatrixView& w, int64_t n_tokens, ThreadPool* pool, const TileJob& tile_job) {
  // Waking workers costs microseconds; below this many multiply-adds one thread is faster.
  constexpr int64_t kMinParallelWork = 1 << 16;
  if (pool && w.rows * w.cols * n_tokens >= kMinParallelWork) {
    pool->ParallelFor(w.rows, tile_job, kRowGrain);
  } else {
    tile_job(0, w.rows);
  }
}

// Calls row_group(r, rows, t, group) for the rows [begin, end) in runs of `rows_per_call` (a
// shorter one at the end) and every group of up to kMaxTokensPerKernel tokens starting at t: a tile
// of kRowTile rows is reused, from cache, by every token group before the next tile is read.
template <typename RowGroup>
void ForTiles(int64_t begin, int64_t end, int64_t n_tokens, int64_t rows_per_call,
              const RowGroup& row_group) {
  for (int64_t tile = begin; tile < end; tile += kRowTile) {
    const int64_t tile_end = std::min(end, tile + kRowTile);
    for (int64_t t = 0; t < n_tokens; t += kMaxTokensPerKernel) {
      const int group = static_cast<int>(std::min<int64_t>(kMaxTokensPerKernel, n_tokens - t));
      for (int64_t r = tile; r < tile_end; r += rows_per_call) {
        row_group(r, std::min(rows_per_call, tile_end - r), t, group);
      }
    }
  }
}

// Y[t][r] for t in [0, n_tokens): x rows `x_stride` floats apart, y rows `y_stride` floats apart.
void MatMulChunk(const KernelSet& k, const MatrixView& w, const float* x, int64_t x_stride,
                 int64_t n_tokens, float* y, int64_t y_stride, ThreadPool* pool) {
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  // Row blocking pays off once several tokens share it (prefill); one token keeps one row per call.
  const int64_t rows_per_call = k.dot_rows_tokens && n_tokens > 1 ? kRowsPerKernel : 1;
  ForRows(w, n_tokens, pool, [&](int64_t begin, int64_t end) {
    ForTiles(begin, end, n_tokens, rows_per_call, [&](int64_t r, int64_t rows, int64_t t, int group) {
      const uint8_t* row = w.data + r * row_bytes;
      if (rows == kRowsPerKernel) {
        k.dot_rows_tokens(group)(row, row_bytes, x + t * x_stride, x_stride, w.cols,
                                 y + t * y_stride + r, y_stride);
        return;
      }
      if (k.dot_tokens) {
        // Register blocking: the group shares each load and conversion of the weights.
        k.dot_tokens(group)(row, x + t * x_stride, x_stride, w.cols, y + t * y_stride + r,
                            y_stride);
      } else {
        for (int g = 0; g < group; ++g) {
          y[(t + g) * y_stride + r] = k.dot(row, x + (t + g) * x_stride, w.cols);
        }
      }
    });
  });
}

// The same over activations already rounded to Q8Act blocks (x rows `x_stride` blocks apart).
void MatMulChunkQ8(const KernelSet& k, const MatrixView& w, const Q8Act* x, int64_t x_stride,
                   int64_t n_tokens, float* y, int64_t y_stride, ThreadPool* pool) {
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  // Two rows share each activation load, which pays off for decode too (integer kernels load
  // three activation vectors per block).
  const int64_t rows_per_call = k.dot_q8_rows_tokens ? kRowsPerKernel : 1;
  ForRows(w, n_tokens, pool, [&](int64_t begin, int64_t end) {
    ForTiles(begin, end, n_tokens, rows_per_call, [&](int64_t r, int64_t rows, int64_t t, int group) {
      if (rows == kRowsPerKernel) {
        k.dot_q8_rows_tokens(group)(w.data + r * row_bytes, row_bytes, x + t * x_stride, x_stride,
                                    w.cols, y + t * y_stride + r, y_stride);
      } else {
        k.dot_q8_tokens(group)(w.data + r * row_bytes, x + t * x_stride, x_stride, w.cols,
                               y + t * y_stride + r, y_stride);
      }
    });
  });
}

// Rounds x to Q8Act blocks, a chunk of tokens at a time (once per matrix, shared by every row and
// thread), then multiplies.
void MatMulRounded(const KernelSet& k, const MatrixView& w, const float* x, int64_t n_tokens,
                   float* y, ThreadPool* pool) {
  const int64_t blocks_per_token = w.cols / 32;
  const int64_t chunk_tokens = std::max<int64_t>(
      1, kMaxScratchBytes / static_cast<int64_t>(blocks_per_token * sizeof(Q8Act)));
  Q8Act* rounded =
      ThreadScratch<Q8Act, RoundedX>(std::min(chunk_tokens, n_tokens) * blocks_per_token);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk_tokens) {
    const int64_t count = std::min(chunk_tokens, n_tokens - t0);
    for (int64_t t = 0; t < count; ++t) {
      QuantizeActivations(x + (t0 + t) * w.cols, w.cols, rounded + t * blocks_per_token);
    }
    MatMulChunkQ8(k, w, rounded, blocks_per_token, count, y + t0 * w.rows, w.rows, pool);
  }
}

}  // namespace

void MatMulWith(const KernelSet& k, const MatrixView& w, const float* x, int64_t n_tokens, float* y,
                ThreadPool* pool) {
  assert(k.dot && "MatMul: weight type has no kernel (the loader should have rejected it)");
  if (k.dot_q8_tokens) return MatMulRounded(k, w, x, n_tokens, y, pool);
  // Vector loads of x that straddle cache lines cost up to 40% of the batched kernels' speed, and
  // activations come from std::vector (16-byte aligned). Copy x, a chunk of tokens at a time, to
  // 64-byte-aligned rows unless it already is; the values, hence the results, are the same.
  const bool aligned = reinterpret_cast<uintptr_t>(x) % (kAlignFloats * sizeof(float)) == 0 &&
                       w.cols % kAlignFloats == 0;
  if (aligned) return MatMulChunk(k, w, x, w.cols, n_tokens, y, w.rows, pool);
  const int64_t stride = (w.cols + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  const int64_t chunk_tokens =
      std::max<int64_t>(1, kMaxScratchBytes / static_cast<int64_t>(stride * sizeof(float)));
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk_tokens) {
    const int64_t count = std::min(chunk_tokens, n_tokens - t0);
    float* copy = ThreadScratch<float, AlignedCopyOfX>(count * stride);
    for (int64_t t = 0; t < count; ++t) {
      std::memcpy(copy + t * stride, x + (t0 + t) * w.cols, w.cols * sizeof(float));
    }
    MatMulChunk(k, w, copy, stride, count, y + t0 * w.rows, w.rows, pool);
  }
}

}  // namespace kernels
}  // namespace kvik
