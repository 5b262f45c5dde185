#include "util/large_pages.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kvik {
namespace {

TEST(LargePagesTest, ZeroBytesIsNull) { EXPECT_EQ(AllocateLargePages(0), nullptr); }

TEST(LargePagesTest, SmallBuffersAreCacheLineAligned) {
  for (size_t bytes : {size_t{1}, size_t{63}, size_t{64}, size_t{100000}}) {
    LargePageBuffer b = AllocateLargePages(bytes);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 64, 0u) << bytes;
    std::memset(b.get(), 0xab, bytes);
  }
}

TEST(LargePagesTest, LargeBuffersAreHugePageAlignedAndWritableToTheEnd) {
  const size_t bytes = kLargePageBytes * 3 + 12345;
  LargePageBuffer b = AllocateLargePages(bytes);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % kLargePageBytes, 0u);
  std::memset(b.get(), 0x5a, bytes);
  EXPECT_EQ(b.get()[bytes - 1], 0x5a);
}

}  // namespace
}  // namespace kvik
