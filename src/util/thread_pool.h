// A persistent pool of worker threads for data-parallel loops.
// ParallelFor splits [0, n) into one contiguous range ("share") per thread, always the same way for
// the same (n, thread count), so per-item results never depend on scheduling. Nothing is allocated
// per call. A decode step issues ~10 small jobs per layer, so hand-off latency matters: idle
// workers spin (with pause) for a short while before sleeping on a condition variable.
// Shares are claimed, not assigned: whichever thread is running takes the next unclaimed share, so
// a worker the OS has not scheduled yet (another process on the core) costs nothing; the caller
// runs its work instead of waiting a time slice for it. The caller only waits for shares already
// claimed and still running.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kvik {

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 means "run inline, start no workers".
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n); returns when all are done.
  // Ranges are aligned to `grain` items (except the last) so SIMD-sized chunks stay whole.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

 private:
  void WorkerLoop();
  void RunShare(int share);
  // Claims and runs shares of job `generation` until none is left (or that job is over).
  void RunSharesOf(uint64_t generation);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;                 // guards sleeping only; the hand-off itself is lock-free
  std::condition_variable work_ready_;
  std::atomic<uint64_t> generation_{0};  // bumped (release) once per job; wakes the workers
  // The current job's generation (high bits) and next unclaimed share (low kShareBits bits), so a
  // claim is one compare-and-swap that fails for a job that has ended.
  static constexpr int kShareBits = 16;
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_{0};  // shares of the current job finished
  std::atomic<bool> stopping_{false};
  // The current job (written before claim_ and generation_ publish it; valid while a claimed share
  // is unfinished).
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
};

}  // namespace kvik
