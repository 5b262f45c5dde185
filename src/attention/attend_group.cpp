// Grouped attention over the paged KV cache: walks a sequence's rows a tile of kTile positions at
// a time (tiles start at `first`, so their boundaries never depend on blocks), converts rows that
// are not f32, and lets the per-ISA kernels (group_kernels.h) score, softmax and accumulate all the
// query heads of one KV head from the same rows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention/group_kernels.h"
#include "kvik/attention.h"
#include "kvik/quantize.h"
#include "kvik/tensor.h"
#include "tensor/dot_kernels.h"
#include "tensor/scratch.h"

namespace kvik {
namespace attention {
namespace {

// Walks a run position by position, crossing block boundaries without a division per row.
class RowCursor {
 public:
  RowCursor(const KvRun& run, int64_t position)
      : run_(run),
        block_(position / run.block_size),
        slot_(position % run.block_size),
        rows_(nullptr) {}
  const uint8_t* row() {
    // A block's address is looked up only when its first row is needed, so stepping past the last
    // row never reads the block table out of range.
    if (!rows_) rows_ = run_.block_rows(block_) + slot_ * run_.row_bytes;
    return rows_;
  }
  void Next() {
    if (++slot_ == run_.block_size) {
      slot_ = 0;
      ++block_;
      rows_ = nullptr;
    } else if (rows_) {
      rows_ += run_.row_bytes;
    }
  }

 private:
  const KvRun& run_;
  int64_t block_, slot_;
  const uint8_t* rows_;
};

// Where the `count` rows from `position` on are stored, as elements of type T: a block's rows at a
// time, one table lookup per block, then a plain strided loop (a cursor step per row was 6% of
// decode attention's time from cache).
template <typename T>
void StoredRows(const KvRun& run, int64_t position, int64_t count, const T** rows) {
  int64_t block = position / run.block_size, slot = position % run.block_size;
  for (int64_t j = 0; j < count; ++block, slot = 0) {
    const uint8_t* base = run.block_rows(block) + slot * run.row_bytes;
    const int64_t stop = std::min(count, j + run.block_size - slot);
    for (int64_t i = 0; j < stop; ++j, ++i) {
      rows[j] = reinterpret_cast<const T*>(base + i * run.row_bytes);
    }
  }
}

// Whether the kernels read this run's rows as stored (F16, see GroupKernels::score_f16).
bool ReadsF16Directly(const GroupKernels& kernels, const KvRun& run, int64_t n) {
  return run.dtype == DType::kF16 && kernels.score_f16 != nullptr && n <= kernels.f16_max_head_dim;
}

// The `count` rows from `position` on as f32: in place when stored as f32, else converted into
// `scratch` (count · n floats).
void GatherRows(const GroupKernels& kernels, const KvRun& run, int64_t position, int64_t count,
                int64_t n, float* scratch, const float** rows) {
  if (run.dtype == DType::kF32) return StoredRows(run, position, count, rows);
  RowCursor cursor(run, position);
  const uint8_t* stored[kTile];
  for (int64_t j = 0; j < count; ++j, cursor.Next()) {
    stored[j] = cursor.row();
    rows[j] = scratch + j * n;
  }
  kernels.convert(run.dtype, stored, count, n, scratch);
}

// f32 copies of one KV head's keys and values from position `begin` on, made once for several query
// rows (AttendGroupRows); nullptr for a run read in place or gathered per tile.
struct ConvertedRows {
  const float* keys = nullptr;
  const float* values = nullptr;
  int64_t begin = 0;
};

// Rows [begin, end) of a run as f32 into dst ((end − begin) · n floats), a tile at a time with the
// same conversion GatherRows uses, so every row gets the same bits either way.
void ConvertRun(const GroupKernels& kernels, const KvRun& run, int64_t begin, int64_t end,
                int64_t n, float* dst) {
  RowCursor cursor(run, begin);
  const uint8_t* stored[kTile];
  for (int64_t tile = begin; tile < end; tile += kTile) {
    const int64_t count = std::min(kTile, end - tile);
    for (int64_t j = 0; j < count; ++j, cursor.Next()) stored[j] = cursor.row();
    kernels.convert(run.dtype, stored, count, n, dst + (tile - begin) * n);
  }
}

// A tile's rows: pointers into the converted copy when there is one, else GatherRows.
void TileRows(const GroupKernels& kernels, const KvRun& run, const float* converted,
              int64_t converted_begin, int64_t tile, int64_t count, int64_t n, float* scratch,
              const float** rows) {
  if (converted == nullptr) return GatherRows(kernels, run, tile, count, n, scratch, rows);
  for (int64_t j = 0; j < count; ++j) rows[j] = converted + (tile + j - converted_begin) * n;
}

// n_views KV heads with `heads` query heads each (n_views · heads ≤ kMaxGroup) in one pass over
// [first, end). Each (KV head, query head) pair has its own softmax state and accumulator, so the
// pass only decides the order rows are read in: per tile, the K rows of all the views, then their
// V rows. `converted` (one view only) supplies rows already converted to f32.
void AttendHeads(const GroupKernels& kernels, const KvHeadView* kv, int64_t n_views, int64_t first,
                 int64_t end, const float* q, int64_t heads, float* out,
                 const ConvertedRows& converted = {}) {
  const int64_t n = kv[0].head_dim, total = n_views * heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  float max[kMaxGroup], sum[kMaxGroup], rescale[kMaxGroup];
  alignas(64) float scores[kMaxGroup * kTile];
  // Converted rows of one view's tile: its K rows until scored, later its V rows.
  alignas(64) float scratch[kTile * kMaxHeadDim];
  const float* rows[kTile];
  // F16 rows the kernels read as stored, unless a converted copy is at hand.
  const uint16_t* f16_rows[kTile];
  std::fill(max, max + total, -std::numeric_limits<float>::infinity());
  std::fill(sum, sum + total, 0.0f);
  // The first tile's rescale is exp(−inf) = 0, which must meet zeros, not garbage.
  std::fill(out, out + total * n, 0.0f);
  for (int64_t tile = first; tile < end; tile += kTile) {
    const int64_t count = std::min(kTile, end - tile);
    for (int64_t v = 0; v < n_views; ++v) {
      const int64_t h = v * heads;
      if (converted.keys == nullptr && ReadsF16Directly(kernels, kv[v].keys, n)) {
        StoredRows(kv[v].keys, tile, count, f16_rows);
        kernels.score_f16(f16_rows, count, q + h * n, heads, n, scores + h * kTile);
      } else {
        TileRows(kernels, kv[v].keys, converted.keys, converted.begin, tile, count, n, scratch,
                 rows);
        kernels.score(rows, count, q + h * n, heads, n, scores + h * kTile);
      }
      kernels.softmax(scores + h * kTile, count, heads, scale, max + h, sum + h, rescale + h);
    }
    for (int64_t v = 0; v < n_views; ++v) {
      const int64_t h = v * heads;
      if (converted.values == nullptr && ReadsF16Directly(kernels, kv[v].values, n)) {
        StoredRows(kv[v].values, tile, count, f16_rows);
        kernels.accumulate_f16(f16_rows, count, scores + h * kTile, rescale + h, heads, n,
                               out + h * n);
      } else {
        TileRows(kernels, kv[v].values, converted.values, converted.begin, tile, count, n, scratch,
                 rows);
        kernels.accumulate(rows, count, scores + h * kTile, rescale + h, heads, n, out + h * n);
      }
    }
  }
  for (int64_t h = 0; h < total; ++h) {
    const float inverse = 1.0f / sum[h];
    for (int64_t d = 0; d < n; ++d) out[h * n + d] *= inverse;
  }
}

}  // namespace

const GroupKernels& GroupKernelsFor(int64_t head_dim) {
  using kernels::Isa;
  static const Isa isa = kernels::SelectedIsa();
  static const GroupKernels scalar = ScalarGroupKernels();
  static const GroupKernels avx2 = isa >= Isa::kAvx2 ? Avx2GroupKernels() : GroupKernels{};
  static const GroupKernels avx512 = isa >= Isa::kAvx512 ? Avx512GroupKernels() : GroupKernels{};
  for (const GroupKernels* k : {&avx512, &avx2}) {
    if (*k && head_dim % k->head_dim_multiple == 0) return *k;
  }
  return scalar;
}

void AttendGroupsWith(const GroupKernels& kernels, std::span<const KvHeadView> kv, int64_t first,
                      int64_t end, const float* q, int64_t n_q_heads, float* out) {
  const int64_t n = kv.empty() ? 0 : kv[0].head_dim;
  const int64_t n_views = static_cast<int64_t>(kv.size());
  if (n_q_heads > kMaxGroup) {  // a multi-query model: one KV head, its query heads in passes
    for (int64_t v = 0; v < n_views; ++v) {
      for (int64_t h = 0; h < n_q_heads; h += kMaxGroup) {
        const int64_t offset = (v * n_q_heads + h) * n;
        AttendHeads(kernels, &kv[v], 1, first, end, q + offset, std::min(kMaxGroup, n_q_heads - h),
                    out + offset);
      }
    }
    return;
  }
  const int64_t views_per_pass = kMaxGroup / n_q_heads;
  for (int64_t v = 0; v < n_views; v += views_per_pass) {
    const int64_t offset = v * n_q_heads * n;
    AttendHeads(kernels, &kv[v], std::min(views_per_pass, n_views - v), first, end, q + offset,
                n_q_heads, out + offset);
  }
}

void AttendGroupWith(const GroupKernels& kernels, const KvHeadView& kv, int64_t first, int64_t end,
                     const float* q, int64_t n_q_heads, float* out) {
  AttendGroupsWith(kernels, std::span<const KvHeadView>(&kv, 1), first, end, q, n_q_heads, out);
}

}  // namespace attention

void AttendGroup(const KvHeadView& kv, int64_t first, int64_t end, const float* q,
                 int64_t n_q_heads, float* out) {
  attention::AttendGroupWith(attention::GroupKernelsFor(kv.head_dim), kv, first, end, q, n_q_heads,
                             out);
}

void AttendGroupRows(const KvHeadView& kv, std::span<const int64_t> first,
                     std::span<const int64_t> end, const float* q, int64_t q_stride,
                     int64_t n_q_heads, float* out, int64_t out_stride) {
  using attention::kMaxGroup;
  const attention::GroupKernels& kernels = attention::GroupKernelsFor(kv.head_dim);
  const int64_t n_rows = static_cast<int64_t>(first.size()), n = kv.head_dim;
  if (n_rows == 0) return;
  const int64_t lo = *std::min_element(first.begin(), first.end());
  const int64_t hi = *std::max_element(end.begin(), end.end());
  const bool convert_keys = kv.keys.dtype != DType::kF32;
  const bool convert_values = kv.values.dtype != DType::kF32;
  // Above this the copies would cost more memory than the conversions they save are worth.
  constexpr int64_t kMaxConvertedBytes = int64_t{16} << 20;
  const bool convert_once =
      n_rows > 1 && (convert_keys || convert_values) && n_q_heads <= kMaxGroup &&
      (hi - lo) * n * 2 * static_cast<int64_t>(sizeof(float)) <= kMaxConvertedBytes;
  if (!convert_once) {
    for (int64_t r = 0; r < n_rows; ++r) {
      attention::AttendGroupWith(kernels, kv, first[r], end[r], q + r * q_stride, n_q_heads,
                                 out + r * out_stride);
    }
    return;
  }
  struct ConvertedKeys;
  struct ConvertedValues;
  attention::ConvertedRows converted{nullptr, nullptr, lo};
  if (convert_keys) {
    float* keys = kernels::ThreadScratch<float, ConvertedKeys>((hi - lo) * n);
    attention::ConvertRun(kernels, kv.keys, lo, hi, n, keys);
    converted.keys = keys;
  }
  if (convert_values) {
    float* values = kernels::ThreadScratch<float, ConvertedValues>((hi - lo) * n);
    attention::ConvertRun(kernels, kv.values, lo, hi, n, values);
    converted.values = values;
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    attention::AttendHeads(kernels, &kv, 1, first[r], end[r], q + r * q_stride, n_q_heads,
                           out + r * out_stride, converted);
  }
}

void AttendGroups(std::span<const KvHeadView> kv, int64_t first, int64_t end, const float* q,
                  int64_t n_q_heads, float* out) {
  if (kv.empty()) return;
  attention::AttendGroupsWith(attention::GroupKernelsFor(kv[0].head_dim), kv, first, end, q,
                              n_q_heads, out);
}

void AttendHead(const KvHeadView& kv, int64_t first, int64_t end, const float* q, float* out) {
  AttendGroup(kv, first, end, q, 1, out);
}

void AttendHeadReference(const KvHeadView& kv, int64_t first, int64_t end, const float* q,
                         float* out) {
  const int64_t n = kv.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  std::vector<float> scores(end - first), row(n);
  // Plain arithmetic on dequantised keys (not DotRowScalar, whose quantised types may quantise q).
  for (int64_t p = first; p < end; ++p) {
    DequantizeRow(kv.keys.dtype, kv.keys.row(p), n, row.data());
    double dot = 0;
    for (int64_t d = 0; d < n; ++d) dot += static_cast<double>(q[d]) * row[d];
    scores[p - first] = static_cast<float>(dot) * scale;
  }
  SoftmaxInPlace(scores.data(), end - first);
  std::fill(out, out + n, 0.0f);
  for (int64_t p = first; p < end; ++p) {
    DequantizeRow(kv.values.dtype, kv.values.row(p), n, row.data());
    for (int64_t d = 0; d < n; ++d) out[d] += scores[p - first] * row[d];
  }
}

}  // namespace kvik
