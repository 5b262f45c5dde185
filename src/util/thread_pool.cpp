#include "util/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KVIK_CPU_RELAX() _mm_pause()
#else
#define KVIK_CPU_RELAX() ((void)0)
#endif

namespace kvik {

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

namespace {
// About 50–200 µs of pause instructions: long enough to bridge the gap between the jobs of one
// decode step, short enough that an idle pool soon stops using the CPU.
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunShare(int share) {
  // Split into n_threads_ near-equal runs of whole grains.
  const int64_t grains = (job_n_ + job_grain_ - 1) / job_grain_;
  const int64_t begin_grain = grains * share / n_threads_;
  const int64_t end_grain = grains * (share + 1) / n_threads_;
  const int64_t begin = std::min(job_n_, begin_grain * job_grain_);
  const int64_t end = std::min(job_n_, end_grain * job_grain_);
  if (begin < end) (*job_)(begin, end);
}

void ThreadPool::RunSharesOf(uint64_t generation) {
  const uint64_t tag = generation << kShareBits;
  uint64_t state = claim_.load(std::memory_order_acquire);
  while ((state & ~uint64_t{(1 << kShareBits) - 1}) == tag &&
         static_cast<int>(state & ((1 << kShareBits) - 1)) < n_threads_) {
    if (!claim_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // `state` was reloaded
    }
    RunShare(static_cast<int>(state & ((1 << kShareBits) - 1)));
    done_.fetch_add(1, std::memory_order_release);
    state = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen_generation = 0;
  while (true) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen_generation &&
           !stopping_.load(std::memory_order_acquire)) {
      if (++spins < kSpinIterations) {
        KVIK_CPU_RELAX();
        continue;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] {
        return stopping_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen_generation;
      });
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    seen_generation = generation_.load(std::memory_order_acquire);
    RunSharesOf(seen_generation);
  }
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                             int64_t grain) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_grain_ = std::max<int64_t>(1, grain);
  done_.store(0, std::memory_order_relaxed);
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(generation << kShareBits, std::memory_order_release);
  {
    // Bumping under the mutex means a worker that is about to sleep either sees the new
    // generation in its wait predicate or is already waiting and gets the notification.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.store(generation, std::memory_order_release);
  }
  work_ready_.notify_all();
  RunSharesOf(generation);
  // Every share is claimed; wait for those still running elsewhere. A claimer that lost its core
  // gets it back sooner if this thread yields instead of spinning for a whole time slice.
  for (int spins = 0; done_.load(std::memory_order_acquire) != n_threads_; ++spins) {
    if (spins < kSpinIterations) {
      KVIK_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
}

}  // namespace kvik
