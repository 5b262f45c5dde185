// Per-thread, 64-byte-aligned scratch arrays that grow to the largest size asked for and are then
// reused, so steady-state kernel calls allocate nothing. `Use` names the purpose: two purposes
// never share a buffer, so one can be live while the other is taken.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace kvik::kernels {

template <typename T, typename Use>
T* ThreadScratch(int64_t count) {
  struct FreeDeleter {
    void operator()(T* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<T, FreeDeleter> buffer;
  thread_local int64_t capacity = 0;
  if (count > capacity) {
    // aligned_alloc wants a size that is a multiple of the alignment.
    const int64_t bytes = (count * static_cast<int64_t>(sizeof(T)) + 63) / 64 * 64;
    buffer.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    capacity = count;
  }
  return buffer.get();
}

}  // namespace kvik::kernels
