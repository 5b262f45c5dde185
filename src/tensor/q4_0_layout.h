// The interleaved layout of Q4_0 matrices (RowLayout::kInterleaved16), shared by the repacking code
// (q4_0_layout.cpp) and the kernels (dot_q4_0.cpp). Internal to src/tensor.
//
// A row-major Q4_0 row is blocks of {f16 d; u8 q[16]} (18 bytes, 32 weights: byte m holds element m
// in its low nibble and element m + 16 in its high one). Multiplied a row at a time, every block
// needs its own scale conversion, scaling and reduction, which made decode compute-bound at half
// the memory bandwidth. Interleaved, 16 rows form a group and their blocks b are stored together:
//
//   group g (GroupBytes(cols) apart, from the start of the matrix):
//     quants: n_blocks × 256 bytes; block b's 256 bytes are 4 chunks of 64, and bytes 4i..4i+3 of
//             chunk j are bytes 4j..4j+3 of row (16g + i)'s block b: their low nibbles hold
//             elements 4j..4j+3 and their high nibbles elements 16+4j..16+4j+3.
//     scales: n_blocks × 32 bytes; block b's are the 16 rows' f16 d in row order.
//     padding to a multiple of 64 bytes, so every group (and every 64-byte chunk) is cache-line
//     aligned.
//   rows 16·(rows/16) … rows−1 follow the last group, row-major.
//
// So one 64-byte load holds 4 weights of each of 16 rows, and one multiply-add against 4
// activations broadcast to every lane (vpdpbusd with a broadcast operand) sums them into 16 lanes,
// one per row: a block of 16 rows costs 4 loads, 8 multiply-adds, one scale conversion and one
// FMA, with no horizontal sums.
#pragma once

#include <cstdint>

namespace kvik::kernels::q4_0 {

constexpr int64_t kGroupRows = 16;
constexpr int64_t kBlockBytes = 18;  // row-major {f16 d; u8 q[16]}
constexpr int64_t kGroupQuantBytes = kGroupRows * 16;
constexpr int64_t kGroupScaleBytes = kGroupRows * 2;

inline int64_t GroupBytes(int64_t cols) {
  const int64_t packed = cols / 32 * (kGroupQuantBytes + kGroupScaleBytes);
  return (packed + 63) / 64 * 64;
}

// Where block b's quants and scales of a group start.
inline const uint8_t* GroupQuants(const uint8_t* group, int64_t b) {
  return group + b * kGroupQuantBytes;
}
inline const uint8_t* GroupScales(const uint8_t* group, int64_t n_blocks, int64_t b) {
  return group + n_blocks * kGroupQuantBytes + b * kGroupScaleBytes;
}

}  // namespace kvik::kernels::q4_0
