// The interleaved layout of Q4_0 and Q8_0 matrices (RowLayout::kInterleaved16), shared by the
// repacking code (interleaved_layout.cpp) and the integer kernels (dot_q4_0.cpp, dot_q8_0.cpp).
// Internal to src/tensor.
//
// A row-major row is blocks of {f16 d; u8 quants[Q]} for 32 weights: Q4_0 has Q = 16 (byte m holds
// element m in its low nibble and element m + 16 in its high one), Q8_0 has Q = 32 (byte m is
// element m, int8). Multiplied a row at a time, every block needs its own scale conversion,
// scaling and horizontal reduction, which made decode compute-bound well below the memory
// bandwidth. Interleaved, 16 rows form a group and their blocks b are stored together, two blocks
// (a pair) at a time:
//
//   group g (GroupBytes(format, cols) apart, from the start of the matrix), for pair p = 0, 1, …:
//     scales: 64 bytes, the 16 rows' f16 d of block 2p in row order, then those of block 2p + 1
//             (zeros when n_blocks is odd and 2p + 1 is past the end);
//     quants: 16·Q bytes of block 2p, then 16·Q of block 2p + 1 (if any). A block's quants are
//             Q/4 chunks of 64 bytes, and bytes 4i..4i+3 of chunk j are quant bytes 4j..4j+3 of
//             row (16g + i)'s block b. Q8_0 bytes are stored plus 128 (unsigned), which the
//             unsigned × signed multiply-add needs.
//   rows 16·(rows/16) … rows−1 follow the last group, row-major.
//
// So one 64-byte load holds 4 quant bytes of each of 16 rows, and one multiply-add against 4
// activations broadcast to every lane (vpdpbusd with a broadcast operand) sums them into 16 lanes,
// one per row, with no horizontal sums; a block of 16 rows takes one scale conversion and one FMA.
// Every pair, every group and every 64-byte chunk is cache-line aligned, and a group is one
// sequential run of lines in the order the kernels read them. (Keeping a group's scales together
// after its quants, as an earlier layout did, made them a second, short stream per group that the
// hardware prefetchers never caught: even with software prefetch, small-q8_0 decode reached a
// median 60% of the bandwidth roofline in the minutes this machine's bandwidth was high, against
// 84% with this layout and no prefetch; docs/performance.md, "One stream per group".)
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

// Bytes of a pair of blocks: their scales, then their quants.
inline int64_t PairBytes(const Format& f) { return 2 * kGroupScaleBytes + 2 * GroupQuantBytes(f); }

// A multiple of 64: whole pairs, the last one short of its second block's quants when n_blocks is
// odd.
inline int64_t GroupBytes(const Format& f, int64_t cols) {
  const int64_t n_blocks = cols / 32;
  return (n_blocks + 1) / 2 * 2 * kGroupScaleBytes + n_blocks * GroupQuantBytes(f);
}

// Where block b's scales and quants start, from the start of its group.
inline int64_t ScalesOffset(const Format& f, int64_t b) {
  return b / 2 * PairBytes(f) + b % 2 * kGroupScaleBytes;
}
inline int64_t QuantsOffset(const Format& f, int64_t b) {
  return b / 2 * PairBytes(f) + 2 * kGroupScaleBytes + b % 2 * GroupQuantBytes(f);
}
inline const uint8_t* GroupScales(const Format& f, const uint8_t* group, int64_t b) {
  return group + ScalesOffset(f, b);
}
inline const uint8_t* GroupQuants(const Format& f, const uint8_t* group, int64_t b) {
  return group + QuantsOffset(f, b);
}

}  // namespace kvik::kernels::interleaved
