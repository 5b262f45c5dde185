// Memory for big, long-lived buffers that are read by streaming through them (weights, the KV pool,
// the bandwidth probe), backed by 2 MiB transparent huge pages where the kernel allows it.
//
// Why: decode reads every weight once per token. With 4 KiB pages a 200 MB model spans 50,000
// pages, far more than the TLB holds, so every 4 KiB of a matrix costs a page walk. Moving the
// weights onto huge pages made small-model decode 9-25% faster (F32 +25%, F16 +21%;
// docs/performance.md). Linux's default THP mode, "madvise", only gives huge pages to memory that
// asks for them, hence madvise(MADV_HUGEPAGE) here. Where THP is off (or on another OS) the buffer
// is ordinary memory and works the same, only without the gain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kvik {

// Freed with std::free (the type Model keeps its copy of the weight matrices in).
using LargePageBuffer = std::unique_ptr<uint8_t, void (*)(void*)>;

// The huge-page size the alignment is chosen for.
inline constexpr size_t kLargePageBytes = size_t{2} << 20;

// `bytes` of uninitialised memory, 64-byte aligned; buffers of at least kLargePageBytes are aligned
// to and padded out to whole huge pages and advised to use them. nullptr when out of memory or
// bytes == 0.
LargePageBuffer AllocateLargePages(size_t bytes);

}  // namespace kvik
