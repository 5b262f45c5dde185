// Software prefetch for the kernels that stream weight rows from memory (decode's matrix-vector
// products and the interleaved Q4_0/Q8_0 group kernels). Internal to src/tensor.
//
// Whether it pays depends on the CPU, so it is a kernel variant chosen once per process
// (SelectedPrefetch in dispatch.cpp), like the ISA:
// - On the Intel Xeon of the ninth session (2 cores of a 480 MiB-L3 part), one core kept too few
//   lines in flight for its hardware prefetchers to stream at memory speed: small-f16 decode read
//   its weights at 68-73% of the bandwidth roofline. Asking for each line 8 KiB ahead, into L2,
//   made decode 1.1-1.8x faster in every weight type (docs/performance.md, "Ninth session").
// - On the AMD Zen 4 of earlier sessions the hardware prefetchers streamed at memory speed alone,
//   and a prefetch in the float rows made F32 and F16 decode 9-11% slower (docs/performance.md,
//   huge pages), so it stays off there.
// The prefetch changes no arithmetic: both variants of a kernel give the same bits (tested).
#pragma once

#include <cstdint>

namespace kvik::kernels {

enum class Prefetch { kOff, kAhead };

// How far ahead of the line being read the next one is requested: 8 KiB did best on that Xeon
// (2 and 4 KiB were slower, 16 KiB no faster, in a throwaway two-thread build).
inline constexpr int64_t kPrefetchAheadBytes = 8192;

// Requests the line `kPrefetchAheadBytes` past `line` into L2 (prefetcht1). A prefetch never
// faults, so running past the end of a matrix is harmless.
template <Prefetch kP>
inline void PrefetchAhead(const void* line) {
  if constexpr (kP == Prefetch::kAhead) {
    __builtin_prefetch(static_cast<const char*>(line) + kPrefetchAheadBytes, /*rw=*/0,
                       /*locality=*/2);
  }
}

// PrefetchAhead for every 64-byte line of [start, start + bytes).
template <Prefetch kP>
inline void PrefetchAheadSpan(const uint8_t* start, int64_t bytes) {
  if constexpr (kP == Prefetch::kAhead) {
    for (int64_t offset = 0; offset < bytes; offset += 64) PrefetchAhead<kP>(start + offset);
  }
}

}  // namespace kvik::kernels
