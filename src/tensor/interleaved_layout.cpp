// Interleaving Q4_0 and Q8_0 matrices in groups of 16 rows (the layout is described in
// interleaved_layout.h), and reading a row back from either layout.
#include "tensor/interleaved_layout.h"

#include <cassert>
#include <cstring>

#include "kvik/quantize.h"
#include "kvik/tensor.h"

namespace kvik {

using kernels::interleaved::Format;
using kernels::interleaved::FormatOf;
using kernels::interleaved::GroupBytes;
using kernels::interleaved::GroupQuants;
using kernels::interleaved::GroupScales;
using kernels::interleaved::kGroupRows;
using kernels::interleaved::QuantsOffset;
using kernels::interleaved::ScalesOffset;

namespace {

// Copies 4 quant bytes between the layouts, applying the format's stored XOR (its own inverse).
void CopyQuad(const Format& f, uint8_t* to, const uint8_t* from) {
  uint32_t quad;
  std::memcpy(&quad, from, 4);
  quad ^= 0x01010101u * f.stored_xor;
  std::memcpy(to, &quad, 4);
}

}  // namespace

int64_t InterleavedBytes(const MatrixView& w) {
  const Format* f = FormatOf(w.type);
  if (!f || w.layout != RowLayout::kRowMajor || w.rows < kGroupRows) return 0;
  const int64_t groups = w.rows / kGroupRows;
  return groups * GroupBytes(*f, w.cols) +
         (w.rows - groups * kGroupRows) * RowBytes(w.type, w.cols);
}

MatrixView InterleaveRows(const MatrixView& w, uint8_t* out) {
  assert(InterleavedBytes(w) > 0 && "InterleaveRows: not a row-major Q4_0/Q8_0 matrix of 16+ rows");
  const Format& f = *FormatOf(w.type);
  const int64_t n_blocks = w.cols / 32, groups = w.rows / kGroupRows;
  const int64_t group_bytes = GroupBytes(f, w.cols);
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* group = out + g * group_bytes;
    // Zeros where an odd block count leaves the last pair's second scales unused.
    std::memset(group, 0, group_bytes);
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* quants = group + QuantsOffset(f, b);
      uint8_t* scales = group + ScalesOffset(f, b);
      for (int64_t i = 0; i < kGroupRows; ++i) {
        const uint8_t* block = w.row(g * kGroupRows + i) + b * f.block_bytes;
        std::memcpy(scales + 2 * i, block, 2);
        for (int64_t j = 0; j < f.quant_bytes / 4; ++j) {
          CopyQuad(f, quants + 64 * j + 4 * i, block + 2 + 4 * j);
        }
      }
    }
  }
  const int64_t tail_rows = w.rows - groups * kGroupRows;
  std::memcpy(out + groups * group_bytes, w.row(groups * kGroupRows),
              tail_rows * RowBytes(w.type, w.cols));
  return {w.type, w.rows, w.cols, out, RowLayout::kInterleaved16};
}

void RowToFloats(const MatrixView& w, int64_t r, float* out) {
  if (w.layout == RowLayout::kRowMajor) return DequantizeRow(w.type, w.row(r), w.cols, out);
  const Format& f = *FormatOf(w.type);
  const int64_t groups = w.rows / kGroupRows, group_bytes = GroupBytes(f, w.cols);
  if (r >= groups * kGroupRows) {
    const uint8_t* tail = w.data + groups * group_bytes;
    return DequantizeRow(w.type, tail + (r - groups * kGroupRows) * RowBytes(w.type, w.cols),
                         w.cols, out);
  }
  // Reassemble the row's blocks in the row-major form, then dequantise that.
  const uint8_t* group = w.data + r / kGroupRows * group_bytes;
  const int64_t i = r % kGroupRows, n_blocks = w.cols / 32;
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t block[34];
    std::memcpy(block, GroupScales(f, group, b) + 2 * i, 2);
    for (int64_t j = 0; j < f.quant_bytes / 4; ++j) {
      CopyQuad(f, block + 2 + 4 * j, GroupQuants(f, group, b) + 64 * j + 4 * i);
    }
    DequantizeRow(w.type, block, 32, out + 32 * b);
  }
}

}  // namespace kvik
