// The interleaved layout of Q4_0 and Q8_0 matrices (RowLayout::kInterleaved16), shared by the
// repacking code (interleaved_layout.cpp) and the integer kernels (dot_q4_0.cpp, dot_q8_0.cpp).
// Internal to src/tensor.
//
// A row-major row is blocks of {f16 d; u8 quants[Q]} for 32 weights: Q4_0 has Q = 16 (byte m holds
// element m in its low nibble and element m + 16 in its high one), Q8_0 has Q = 32 (byte m is
// element m, int8). Multiplied a row at a time, every block needs its own scale conversion,
// scaling and horizontal reduction, which made decode compute-bound well below the memory
// bandwidth. Interleaved, 16 rows form a group and their blocks b are stored together:
//
//   group g (GroupBytes(format, cols) apart, from the start of the matrix):
//     quants: n_blocks × 16·Q bytes; block b's are Q/4 chunks of 64 bytes, and bytes 4i..4i+3 of
//             chunk j are quant bytes 4j..4j+3 of row (16g + i)'s block b. Q8_0 bytes are stored
//             plus 128 (unsigned), which the unsigned × signed multiply-add needs.
//     scales: n_blocks × 32 bytes; block b's are the 16 rows' f16 d in row order.
//     padding to a multiple of 64 bytes, so every group (and every 64-byte chunk) is cache-line
//     aligned.
//   rows 16·(rows/16) … rows−1 follow the last group, row-major.
//
// So one 64-byte load holds 4 quant bytes of each of 16 rows, and one multiply-add against 4
// activations broadcast to every lane (vpdpbusd with a broadcast operand) sums them into 16 lanes,
// one per row, with no horizontal sums; a block of 16 rows takes one scale conversion and one FMA.
#pragma once

#include <cstdint>

#include "kvik/dtype.h"

namespace kvik::kernels::interleaved {

constexpr int64_t kGroupRows = 16;
constexpr int64_t kGroupScaleBytes = kGroupRows * 2;

struct Format {
  int64_t block_bytes;  // row-major bytes per block of 32 weights
  int64_t quant_bytes;  // of which quants (after the f16 scale)
  uint8_t stored_xor;   // applied to each quant byte when interleaved (Q8_0: int8 → int8 + 128)
};
constexpr Format kQ4_0{18, 16, 0x00};
constexpr Format kQ8_0{34, 32, 0x80};

// The format of an interleavable type; nullptr for the others.
inline const Format* FormatOf(DType type) {
  if (type == DType::kQ4_0) return &kQ4_0;
  if (type == DType::kQ8_0) return &kQ8_0;
  return nullptr;
}

inline int64_t GroupQuantBytes(const Format& f) { return kGroupRows * f.quant_bytes; }

inline int64_t GroupBytes(const Format& f, int64_t cols) {
  const int64_t packed = cols / 32 * (GroupQuantBytes(f) + kGroupScaleBytes);
  return (packed + 63) / 64 * 64;
}

// Where block b's quants and scales of a group start.
inline const uint8_t* GroupQuants(const Format& f, const uint8_t* group, int64_t b) {
  return group + b * GroupQuantBytes(f);
}
inline const uint8_t* GroupScales(const Format& f, const uint8_t* group, int64_t n_blocks,
                                  int64_t b) {
  return group + n_blocks * GroupQuantBytes(f) + b * kGroupScaleBytes;
}

}  // namespace kvik::kernels::interleaved
