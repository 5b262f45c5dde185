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
#include "tensor/interleaved_layout.h"
#include "tensor/scratch.h"
#include "util/thread_pool.h"

namespace kvik {
namespace {

constexpr DType kComputable[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                                 DType::kQ4_0};

// Chosen once per type on first use (CPU detection + $KVIK_ISA, $KVIK_PREFETCH), never per element.
const kernels::KernelSet& Dispatch(DType type) {
  static const auto table = [] {
    std::array<kernels::KernelSet, std::size(kComputable)> sets;
    for (size_t i = 0; i < sets.size(); ++i) {
      sets[i] = kernels::KernelsFor(kernels::SelectedIsa(), kComputable[i],
                                    kernels::SelectedPrefetch());
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

void MatMulShared(std::span<const MatMulTarget> targets, const float* x, int64_t n_tokens,
                  ThreadPool* pool) {
  constexpr size_t kGroup = 4;
  for (size_t first = 0; first < targets.size(); first += kGroup) {
    std::array<kernels::MatMulTargetWith, kGroup> with;
    const size_t count = std::min(kGroup, targets.size() - first);
    for (size_t i = 0; i < count; ++i) {
      const MatMulTarget& target = targets[first + i];
      with[i] = {&Dispatch(target.w.type), target.w, target.y};
    }
    kernels::MatMulTargets({with.data(), count}, x, n_tokens, pool);
  }
}

namespace kernels {
namespace {

constexpr int64_t kAlignFloats = 16;  // 64 bytes: one cache line, one AVX-512 vector

// Copies of x (aligned) and rounded activations go a chunk of tokens at a time through per-thread
// scratch of about this size.
constexpr int64_t kMaxScratchBytes = 1 << 20;
struct AlignedCopyOfX;
struct RoundedX;

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

// One chunk of tokens' activations in the forms the kernels read: f32 rows, 64-byte aligned
// (`f_stride` floats apart), and rounded Q8Act blocks (`q_stride` blocks apart) when some matrix
// multiplies in integers.
struct PreparedX {
  const float* f = nullptr;
  int64_t f_stride = 0;
  const Q8Act* q = nullptr;
  int64_t q_stride = 0;
};

// Y[t][r] = W[r] · X[t] for rows [begin, end) of one matrix and the chunk's n_tokens tokens; y rows
// are `y_stride` floats apart.
void RunRows(const KernelSet& k, const MatrixView& w, const PreparedX& x, int64_t n_tokens,
             float* y, int64_t y_stride, int64_t begin, int64_t end) {
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  if (k.dot_q8_tokens) {
    const uint8_t* row_major = w.data;  // where row `row_major_from` starts
    int64_t row_major_from = 0;
    if (w.layout == RowLayout::kInterleaved16) {
      // A group belongs to the range holding its first row, so groups split between ranges (whose
      // bounds need not be multiples of 16 in MatMulShared) are computed once, whole.
      constexpr int64_t kGroupRows = interleaved::kGroupRows;
      const int64_t groups = w.rows / kGroupRows;
      const int64_t group_bytes = interleaved::GroupBytes(*interleaved::FormatOf(w.type), w.cols);
      const int64_t first = (begin + kGroupRows - 1) / kGroupRows;
      for (int64_t g = first; g < groups && g * kGroupRows < end; ++g) {
        for (int64_t t = 0; t < n_tokens; t += kMaxTokensPerKernel) {
          const int group = static_cast<int>(std::min<int64_t>(kMaxTokensPerKernel, n_tokens - t));
          k.dot_q8_group_tokens(group)(w.data + g * group_bytes, x.q + t * x.q_stride, x.q_stride,
                                       w.cols, y + t * y_stride + g * kGroupRows, y_stride);
        }
      }
      row_major_from = groups * kGroupRows;
      row_major = w.data + groups * group_bytes;
      begin = std::max(begin, row_major_from);
    }
    ForTiles(begin, end, n_tokens, 1, [&](int64_t r, int64_t, int64_t t, int group) {
      k.dot_q8_tokens(group)(row_major + (r - row_major_from) * row_bytes, x.q + t * x.q_stride,
                             x.q_stride, w.cols, y + t * y_stride + r, y_stride);
    });
    return;
  }
  assert(w.layout == RowLayout::kRowMajor && "only Q4_0 and Q8_0 matrices are interleaved");
  // Row blocking pays off once the product is compute-bound: measured (small-f32, 2 threads) it
  // speeds up pp32 and pp64 by 15-25% and a 64-sequence decode batch by 6%, but slows batches of 4
  // and 16 sequences, which stream the weights from memory, by 10-25%.
  constexpr int64_t kMinTokensForRowBlocking = 17;
  const int64_t rows_per_call =
      k.dot_rows_tokens && n_tokens >= kMinTokensForRowBlocking ? k.rows_per_kernel : 1;
  ForTiles(begin, end, n_tokens, rows_per_call, [&](int64_t r, int64_t rows, int64_t t, int group) {
    const float* xt = x.f + t * x.f_stride;
    if (rows == k.rows_per_kernel) {
      k.dot_rows_tokens(group)(w.data + r * row_bytes, row_bytes, xt, x.f_stride, w.cols,
                               y + t * y_stride + r, y_stride);
      return;
    }
    // One row at a time: decode, or the rows a tile leaves after its last full call.
    for (int64_t last = r + rows; r < last; ++r) {
      const uint8_t* row = w.data + r * row_bytes;
      if (k.dot_tokens) {
        // Register blocking: the group shares each load and conversion of the weights.
        k.dot_tokens(group)(row, xt, x.f_stride, w.cols, y + t * y_stride + r, y_stride);
      } else {
        for (int g = 0; g < group; ++g) {
          y[(t + g) * y_stride + r] = k.dot(row, xt + g * x.f_stride, w.cols);
        }
      }
    }
  });
}

}  // namespace

void MatMulTargets(std::span<const MatMulTargetWith> targets, const float* x, int64_t n_tokens,
                   ThreadPool* pool) {
  if (targets.empty() || n_tokens <= 0) return;
  const int64_t cols = targets[0].w.cols;
  bool rounded = false, plain = false;
  int64_t total_rows = 0;
  for (const MatMulTargetWith& target : targets) {
    assert(target.kernels->dot &&
           "MatMul: weight type has no kernel (the loader should have rejected it)");
    assert(target.w.cols == cols && "MatMulShared: every matrix must take the same input width");
    (target.kernels->dot_q8_tokens ? rounded : plain) = true;
    total_rows += target.w.rows;
  }
  // Vector loads of x that straddle cache lines cost up to 40% of the batched kernels' speed, and
  // activations come from std::vector (16-byte aligned). Copy x to 64-byte-aligned rows unless it
  // already is; the values, hence the results, are the same. Copies and rounded activations go
  // through per-thread scratch a chunk of tokens at a time, prepared once for every matrix, row and
  // thread.
  const bool copy =
      plain && (reinterpret_cast<uintptr_t>(x) % (kAlignFloats * sizeof(float)) != 0 ||
                cols % kAlignFloats != 0);
  const int64_t f_stride = copy ? (cols + kAlignFloats - 1) / kAlignFloats * kAlignFloats : cols;
  const int64_t q_stride = cols / 32;
  const int64_t token_bytes = (copy ? f_stride * static_cast<int64_t>(sizeof(float)) : 0) +
                              (rounded ? q_stride * static_cast<int64_t>(sizeof(Q8Act)) : 0);
  const int64_t chunk_tokens =
      token_bytes == 0 ? n_tokens : std::max<int64_t>(1, kMaxScratchBytes / token_bytes);
  const int64_t scratch_tokens = std::min(chunk_tokens, n_tokens);
  float* f_scratch =
      copy ? ThreadScratch<float, AlignedCopyOfX>(scratch_tokens * f_stride) : nullptr;
  Q8Act* q_scratch = rounded ? ThreadScratch<Q8Act, RoundedX>(scratch_tokens * q_stride) : nullptr;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk_tokens) {
    const int64_t count = std::min(chunk_tokens, n_tokens - t0);
    PreparedX prepared{x + t0 * cols, f_stride, q_scratch, q_stride};
    if (copy) {
      for (int64_t t = 0; t < count; ++t) {
        std::memcpy(f_scratch + t * f_stride, x + (t0 + t) * cols, cols * sizeof(float));
      }
      prepared.f = f_scratch;
    }
    if (rounded) {
      for (int64_t t = 0; t < count; ++t) {
        QuantizeActivations(x + (t0 + t) * cols, cols, q_scratch + t * q_stride);
      }
    }
    // The matrices' rows, end to end, are one range split over the threads.
    auto rows_job = [&](int64_t begin, int64_t end) {
      int64_t offset = 0;
      for (const MatMulTargetWith& target : targets) {
        const int64_t lo = std::max(begin, offset), hi = std::min(end, offset + target.w.rows);
        if (lo < hi) {
          RunRows(*target.kernels, target.w, prepared, count, target.y + t0 * target.w.rows,
                  target.w.rows, lo - offset, hi - offset);
        }
        offset += target.w.rows;
      }
    };
    // Waking workers costs microseconds; below this many multiply-adds one thread is faster.
    constexpr int64_t kMinParallelWork = 1 << 16;
    if (pool && total_rows * cols * count >= kMinParallelWork) {
      pool->ParallelFor(total_rows, rows_job, kRowGrain);
    } else {
      rows_job(0, total_rows);
    }
  }
}

void MatMulWith(const KernelSet& k, const MatrixView& w, const float* x, int64_t n_tokens, float* y,
                ThreadPool* pool) {
  const MatMulTargetWith target{&k, w, y};
  MatMulTargets({&target, 1}, x, n_tokens, pool);
}

}  // namespace kernels
}  // namespace kvik
