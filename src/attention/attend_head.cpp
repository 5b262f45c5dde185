#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kvik/attention.h"
#include "kvik/quantize.h"
#include "kvik/tensor.h"

namespace kvik {
namespace {

// Keys scored per rescale of the accumulator: large enough that the rescale (head_dim multiplies
// and one exp) is amortised, small enough that the scores stay in registers/L1.
constexpr int64_t kTile = 32;

// Walks a run position by position, crossing block boundaries without a division per row.
class RowCursor {
 public:
  RowCursor(const KvRun& run, int64_t position)
      : run_(run), block_(position / run.block_size), slot_(position % run.block_size),
        rows_(run.block_rows(block_) + slot_ * run.row_bytes) {}
  const uint8_t* row() {
    // A block's address is looked up only when its first row is needed, so stepping past the last
    // row never reads the block table out of range.
    if (!rows_) rows_ = run_.block_rows(block_);
    return rows_;
  }
  void Next() { Advance(1); }
  // Rows left in the current block: they are contiguous, one matrix for the dot kernels.
  int64_t rows_left_in_block() const { return run_.block_size - slot_; }
  // Moves `k` ≤ rows_left_in_block() rows on.
  void Advance(int64_t k) {
    slot_ += k;
    if (slot_ == run_.block_size) {
      slot_ = 0;
      ++block_;
      rows_ = nullptr;
    } else if (rows_) {
      rows_ += k * run_.row_bytes;
    }
  }

 private:
  const KvRun& run_;
  int64_t block_, slot_;
  const uint8_t* rows_;
};

// acc += p · v, v one stored row (dequantised into `scratch` unless it is f32). It runs for every
// cached position of every head, so it is compiled for AVX2 and for the baseline and picked at load
// time (GCC function multi-versioning; "arch=haswell" would only match Intel Haswell itself). No
// FMA in either version: both round the product and the sum separately, so they give the same bits.
__attribute__((target_clones("avx2", "default"))) void AddScaledRow(const KvRun& run,
                                                                    const uint8_t* row, int64_t n,
                                                                    float p, float* acc,
                                                                    float* scratch) {
  const float* v = reinterpret_cast<const float*>(row);
  if (run.dtype != DType::kF32) {
    DequantizeRow(run.dtype, row, n, scratch);
    v = scratch;
  }
  for (int64_t d = 0; d < n; ++d) acc[d] += p * v[d];
}

}  // namespace

void AttendHead(const KvHeadView& kv, int64_t first, int64_t end, const float* q, float* out) {
  const int64_t n = kv.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  float scratch[kMaxHeadDim];
  float scores[kTile];
  float running_max = -std::numeric_limits<float>::infinity();
  float sum = 0;
  std::fill(out, out + n, 0.0f);
  RowCursor key(kv.keys, first), value(kv.values, first);
  for (int64_t tile = first; tile < end; tile += kTile) {
    const int64_t count = std::min(kTile, end - tile);
    float tile_max = running_max;
    // The tile's keys, one contiguous run per block: one matrix-vector call per run instead of a
    // dispatched dot per key (each score is still exactly DotRow's: the kernels guarantee it).
    for (int64_t j = 0; j < count;) {
      const int64_t run = std::min(count - j, key.rows_left_in_block());
      MatVec(MatrixView{kv.keys.dtype, run, n, key.row()}, q, scores + j, nullptr);
      key.Advance(run);
      j += run;
    }
    for (int64_t j = 0; j < count; ++j) {
      scores[j] *= scale;
      tile_max = std::max(tile_max, scores[j]);
    }
    if (tile_max > running_max) {
      // exp(−inf) = 0 on the first tile: the empty accumulator stays zero.
      const float rescale = std::exp(running_max - tile_max);
      sum *= rescale;
      for (int64_t d = 0; d < n; ++d) out[d] *= rescale;
      running_max = tile_max;
    }
    for (int64_t j = 0; j < count; ++j, value.Next()) {
      const float p = std::exp(scores[j] - running_max);
      sum += p;
      AddScaledRow(kv.values, value.row(), n, p, out, scratch);
    }
  }
  const float inverse = 1.0f / sum;
  for (int64_t d = 0; d < n; ++d) out[d] *= inverse;
}

void AttendHeadReference(const KvHeadView& kv, int64_t first, int64_t end, const float* q,
                         float* out) {
  const int64_t n = kv.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  std::vector<float> scores(end - first), row(n);
  for (int64_t p = first; p < end; ++p) {
    scores[p - first] = DotRowScalar(kv.keys.dtype, kv.keys.row(p), q, n) * scale;
  }
  SoftmaxInPlace(scores.data(), end - first);
  std::fill(out, out + n, 0.0f);
  for (int64_t p = first; p < end; ++p) {
    DequantizeRow(kv.values.dtype, kv.values.row(p), n, row.data());
    for (int64_t d = 0; d < n; ++d) out[d] += scores[p - first] * row[d];
  }
}

}  // namespace kvik
