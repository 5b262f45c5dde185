#include "util/large_pages.h"

#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kvik {

LargePageBuffer AllocateLargePages(size_t bytes) {
  if (bytes == 0) return LargePageBuffer(nullptr, std::free);
  if (bytes < kLargePageBytes) {
    return LargePageBuffer(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)),
                           std::free);
  }
  // A partial huge page at either end would stay 4 KiB pages; aligning and padding avoids that.
  const size_t padded = (bytes + kLargePageBytes - 1) / kLargePageBytes * kLargePageBytes;
  LargePageBuffer buffer(static_cast<uint8_t*>(std::aligned_alloc(kLargePageBytes, padded)),
                         std::free);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: EINVAL where THP is compiled out changes nothing but the speed.
  if (buffer) madvise(buffer.get(), padded, MADV_HUGEPAGE);
#endif
  return buffer;
}

}  // namespace kvik
