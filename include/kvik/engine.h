// The serving engine: many generation requests share one model and one paged KV cache, and each
// step runs a single forward pass over all of them (continuous batching, Yu et al. 2022 "Orca";
// vLLM's scheduler). Prompts are prefilled in chunks next to running decodes; when the KV pool runs
// out the newest sequence is preempted and later recomputed (its blocks usually stay cached, so
// the recompute is mostly prefix hits). FCFS: a request is admitted only after every earlier one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kvik/generate.h"
#include "kvik/kv_cache.h"
#include "kvik/model.h"
#include "kvik/sampler.h"
#include "kvik/status.h"

namespace kvik {

class ThreadPool;

struct EngineOptions {
  int64_t context_tokens = 0;      // per sequence (prompt + output); 0: the model's
  int64_t parallel = 4;            // sequences running at once
  uint64_t kv_budget_bytes = 0;    // KV pool; 0: context_tokens × parallel
  int64_t block_size = 16;
  DType kv_key_dtype = DType::kF32;
  DType kv_value_dtype = DType::kF32;
  int64_t max_batch_tokens = 256;  // token rows per forward step (decodes + prompt chunks)
  int64_t max_queue = 256;         // waiting requests; beyond it Submit refuses
  bool prefix_sharing = true;
};

using RequestId = uint64_t;

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 128;
  SamplerOptions sampling;
  bool stop_at_eos = true;
  int32_t eos_id = -1;
};

// What a request's callback hears: each new token, then one final event (done = true).
struct TokenEvent {
  RequestId id = 0;
  int32_t token = -1;              // -1 on the final event
  bool done = false;
  FinishReason finish_reason = FinishReason::kLength;
  bool cancelled = false;
  Status error;                    // set when the request failed (done = true)
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache at admission
  int64_t completion_tokens = 0;
};
// Called on the engine thread; must be quick (hand the event to another thread).
using EventCallback = std::function<void(const TokenEvent&)>;

struct EngineStats {
  uint64_t requests_submitted = 0, requests_finished = 0, requests_cancelled = 0;
  uint64_t requests_failed = 0, preemptions = 0, steps = 0;
  uint64_t prompt_tokens = 0, prompt_tokens_cached = 0, generated_tokens = 0;
  int64_t waiting = 0, running = 0;
  int64_t last_batch_rows = 0, last_batch_sequences = 0;
  KvCacheStats kv;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const Model& model, const EngineOptions& options,
                                                ThreadPool* pool);
  ~Engine();

  const EngineOptions& options() const { return options_; }
  int64_t context_tokens() const { return context_tokens_; }

  // Queues a request (thread-safe). InvalidArgument for an empty prompt, a prompt that leaves no
  // room in the context, or bad limits; ResourceExhausted when max_queue requests are waiting;
  // Unavailable-style ResourceExhausted after Stop().
  Result<RequestId> Submit(GenerationRequest request, EventCallback on_event);
  // Ends a request early (thread-safe); its final event says cancelled. Unknown ids are ignored.
  void Cancel(RequestId id);

  // One scheduling step on the calling thread: admit, batch, forward, sample, finish. Returns false
  // when there was nothing to do. Use either Step() or Start(), not both.
  bool Step();
  // Runs steps on a background thread until Stop(), sleeping while idle.
  void Start();
  // Refuses new requests, cancels the rest, and joins the background thread.
  void Stop();

  EngineStats stats() const;
  // The pool's blocks after the last step; first_owner is a request id (-1: none).
  std::vector<KvBlockInfo> DescribeBlocks() const;

 private:
  struct Sequence;
  Engine(const Model& model, const EngineOptions& options, ThreadPool* pool);
  void TakeInbox();
  void Admit();
  bool WaitsForSharedPrefix(const Sequence& s) const;
  bool Preempt();
  void Finish(Sequence& s, FinishReason reason, bool cancelled, Status error);
  void PublishSnapshot();

  const Model& model_;
  EngineOptions options_;
  ThreadPool* pool_;
  int64_t context_tokens_ = 0;
  int64_t total_blocks_ = 0;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<ForwardState> state_;
  std::vector<float> logits_;

  // Owned by the stepping thread.
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;  // in admission order; the back is newest
  EngineStats counters_;

  // Shared with submitting threads.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> inbox_;
  std::vector<RequestId> cancelled_;
  RequestId next_id_ = 1;
  int64_t queued_ = 0;  // inbox + waiting, for max_queue
  bool stopping_ = false;
  EngineStats snapshot_;
  std::vector<KvBlockInfo> blocks_snapshot_;
  std::thread thread_;
};

}  // namespace kvik
