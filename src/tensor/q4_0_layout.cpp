// Interleaving Q4_0 matrices in groups of 16 rows (the layout is described in q4_0_layout.h), and
// reading a row back from either layout.
#include "tensor/q4_0_layout.h"

#include <cassert>
#include <cstring>

#include "kvik/quantize.h"
#include "kvik/tensor.h"

namespace kvik {

using kernels::q4_0::GroupBytes;
using kernels::q4_0::kBlockBytes;
using kernels::q4_0::kGroupQuantBytes;
using kernels::q4_0::kGroupRows;
using kernels::q4_0::kGroupScaleBytes;

int64_t InterleavedBytes(const MatrixView& w) {
  if (w.type != DType::kQ4_0 || w.layout != RowLayout::kRowMajor || w.rows < kGroupRows) return 0;
  const int64_t groups = w.rows / kGroupRows;
  return groups * GroupBytes(w.cols) + (w.rows - groups * kGroupRows) * RowBytes(w.type, w.cols);
}

MatrixView InterleaveRows(const MatrixView& w, uint8_t* out) {
  assert(InterleavedBytes(w) > 0 && "InterleaveRows: not a row-major Q4_0 matrix of 16+ rows");
  const int64_t n_blocks = w.cols / 32, groups = w.rows / kGroupRows;
  const int64_t group_bytes = GroupBytes(w.cols);
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* group = out + g * group_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* quants = group + b * kGroupQuantBytes;
      uint8_t* scales = group + n_blocks * kGroupQuantBytes + b * kGroupScaleBytes;
      for (int64_t i = 0; i < kGroupRows; ++i) {
        const uint8_t* block = w.row(g * kGroupRows + i) + b * kBlockBytes;
        std::memcpy(scales + 2 * i, block, 2);
        for (int j = 0; j < 4; ++j) std::memcpy(quants + 64 * j + 4 * i, block + 2 + 4 * j, 4);
      }
    }
    const int64_t packed = n_blocks * (kGroupQuantBytes + kGroupScaleBytes);
    std::memset(group + packed, 0, group_bytes - packed);
  }
  const int64_t tail_rows = w.rows - groups * kGroupRows;
  std::memcpy(out + groups * group_bytes, w.row(groups * kGroupRows),
              tail_rows * RowBytes(w.type, w.cols));
  return {w.type, w.rows, w.cols, out, RowLayout::kInterleaved16};
}

void RowToFloats(const MatrixView& w, int64_t r, float* out) {
  if (w.layout == RowLayout::kRowMajor) return DequantizeRow(w.type, w.row(r), w.cols, out);
  const int64_t groups = w.rows / kGroupRows, group_bytes = GroupBytes(w.cols);
  if (r >= groups * kGroupRows) {
    const uint8_t* tail = w.data + groups * group_bytes;
    return DequantizeRow(w.type, tail + (r - groups * kGroupRows) * RowBytes(w.type, w.cols),
                         w.cols, out);
  }
  // Reassemble the row's blocks in the row-major form, then dequantise that.
  const uint8_t* group = w.data + r / kGroupRows * group_bytes;
  const int64_t i = r % kGroupRows, n_blocks = w.cols / 32;
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t block[kBlockBytes];
    std::memcpy(block, group + n_blocks * kGroupQuantBytes + b * kGroupScaleBytes + 2 * i, 2);
    for (int j = 0; j < 4; ++j) {
      std::memcpy(block + 2 + 4 * j, group + b * kGroupQuantBytes + 64 * j + 4 * i, 4);
    }
    DequantizeRow(w.type, block, 32, out + 32 * b);
  }
}

}  // namespace kvik
