// Per-ISA kernels of grouped attention (AttendGroup): the query heads that share one KV head are
// scored, softmaxed and accumulated together, so each K and V row is read once for the group.
// Internal to src/attention; the driver (attend_group.cpp) walks the paged rows and calls these
// once per tile of keys.
//
// Arithmetic contract (what makes prefill == decode and paged == dense): every head's result
// depends only on its own q, the rows, and head_dim. A head computed in a group of G gets the same
// bits as computed alone, because each head has its own accumulators, updated by the same
// instructions in the same order whatever G (and whatever the register blocking of heads). The
// kernel files are compiled with FP contraction off, so a mul followed by an add stays two
// roundings in every ISA (the exp below relies on it); the FMAs they use are explicit.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

#include "kvik/dtype.h"

namespace kvik {
struct KvHeadView;
}  // namespace kvik

namespace kvik::attention {

// Keys per tile: each tile rescales the accumulators once; 32 scores per head fit in registers.
inline constexpr int64_t kTile = 32;
// (KV head, query head) pairs served by one pass over the rows; larger groups (multi-query models)
// take several passes.
inline constexpr int64_t kMaxGroup = 16;

struct GroupKernels {
  // head_dim must be a multiple of this for the kernels to apply (SIMD width, no tail loops).
  int64_t head_dim_multiple = 0;
  // dst + j·n = rows[j] as f32 (n elements), j < count: F16, BF16 vectorised; Q8_0/Q4_0
  // dequantised. One call per tile, not per row.
  void (*convert)(DType dtype, const uint8_t* const* rows, int64_t count, int64_t n,
                  float* dst) = nullptr;
  // scores[g·kTile + j] = q_g · rows[j] for j < count, g < n_heads; q_g = q + g·n.
  void (*score)(const float* const* rows, int64_t count, const float* q, int64_t n_heads, int64_t n,
                float* scores) = nullptr;
  // One online-softmax step per head g: scores[g·kTile + j] (j < count) are scaled by `scale`;
  // with the tile's maximum m' = max(max[g], scores), rescale[g] = exp(max[g] − m'), the scores
  // become p_j = exp(s_j − m') (0 for j ≥ count), sum[g] = sum[g]·rescale[g] + Σ p, max[g] = m'.
  void (*softmax)(float* scores, int64_t count, int64_t n_heads, float scale, float* max,
                  float* sum, float* rescale) = nullptr;
  // acc_g = acc_g · rescale[g] + Σ_{j<count} p[g·kTile + j] · rows[j], acc_g = acc + g·n.
  void (*accumulate)(const float* const* rows, int64_t count, const float* p, const float* rescale,
                     int64_t n_heads, int64_t n, float* acc) = nullptr;
  // Optional (nullptr where an ISA has none): score and accumulate reading F16 rows as stored, for
  // head_dim ≤ f16_max_head_dim. Each element is converted as it is loaded, to convert's value, so
  // the bits are those of convert followed by score / accumulate; decode skips writing each tile
  // to scratch and reading it back.
  void (*score_f16)(const uint16_t* const* rows, int64_t count, const float* q, int64_t n_heads,
                    int64_t n, float* scores) = nullptr;
  void (*accumulate_f16)(const uint16_t* const* rows, int64_t count, const float* p,
                         const float* rescale, int64_t n_heads, int64_t n, float* acc) = nullptr;
  int64_t f16_max_head_dim = 0;
  // y[i] = Exp(x[i]) with this ISA's vector exp (bit-identical to ExpReference); for tests.
  void (*exp_row)(const float* x, int64_t n, float* y) = nullptr;

  explicit operator bool() const { return score != nullptr; }
};

GroupKernels ScalarGroupKernels();
// Empty when the CPU lacks AVX2+FMA+F16C (resp. AVX-512 F/BW/VL).
GroupKernels Avx2GroupKernels();
GroupKernels Avx512GroupKernels();
// The best kernels for head_dim under the process's ISA choice ($KVIK_ISA, see tensor.h): the
// widest whose head_dim_multiple divides it, scalar otherwise. The same every call for a head_dim.
const GroupKernels& GroupKernelsFor(int64_t head_dim);

// AttendGroup (kvik/attention.h) with the given kernels instead of GroupKernelsFor's: tests and
// benchmarks compare ISAs in one process. head_dim must be a multiple of kernels.head_dim_multiple.
void AttendGroupWith(const GroupKernels& kernels, const KvHeadView& kv, int64_t first, int64_t end,
                     const float* q, int64_t n_q_heads, float* out);
// AttendGroups likewise.
void AttendGroupsWith(const GroupKernels& kernels, std::span<const KvHeadView> kv, int64_t first,
                      int64_t end, const float* q, int64_t n_q_heads, float* out);

// Whether a tile left a head's running maximum where it was (and finite): then the rescale factor
// exp(max − max) = exp(0) is exactly 1 (ExpReference(0) = 1), so the kernels skip computing it.
// Over a long context the maximum settles after a few tiles, and this saves one vector exp per
// head for most tiles of a decode step, with the same bits.
inline bool MaxUnchanged(float old_max, float tile_max) {
  return tile_max == old_max && old_max > -std::numeric_limits<float>::infinity();
}

// exp(x) in single precision, Cephes' expf algorithm (Moshier): n = round(x·log2 e), r = x − n·ln 2
// in two parts (C1 exact in a few bits, C2 the rest), exp(r) by a degree-5 minimax polynomial on
// [−ln2/2, ln2/2], then ·2ⁿ as two exact power-of-two factors so that subnormal results round once
// and n = 128 still reaches the finite range. Max relative error ~1-2 ulp on the normal range;
// x ≤ −104 (and −inf) gives +0, x ≥ 89 (and +inf) gives +inf, NaN gives NaN. Every vector version
// performs exactly these float operations, so they return the same bits.
float ExpReference(float x);

}  // namespace kvik::attention
