// Software prefetch for kernels that stream weights from memory (decode). Internal to src/tensor.
//
// With the hardware prefetchers alone, one thread's Q4_0 kernel read a 55 MB matrix at half the
// bandwidth a plain streaming loop reaches on the same core (11.5 against 22 GB/s, measured in a
// standalone prototype): the kernel's compute and its misses did not overlap. Asking for the lines
// this far ahead, into L2, brought it level with the plain loop; 1-4 KiB ahead, or into L1, gained
// little. The float kernels' rows did not gain from it (small-f32 tg128 13% slower; F16 +3-7% in
// one A/B, within the noise in another), so only the interleaved integer kernels (Q4_0, Q8_0) use
// it.
#pragma once

#include <cstdint>

namespace kvik::kernels {

constexpr int64_t kPrefetchAheadBytes = 8192;

// Prefetches (into L2) the cache lines of [p, p + bytes).
inline void PrefetchToL2(const uint8_t* p, int64_t bytes) {
  for (int64_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(p + offset, 0, 2);
}

}  // namespace kvik::kernels
