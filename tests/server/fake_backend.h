// A scripted CompletionBackend for the HTTP tests: each request "generates" a fixed list of
// pieces on its own thread. `hold` parks generation until Release(), so tests can keep requests in
// flight (queue limits, disconnects, shutdown) without sleeping.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kvik/server.h"

namespace kvik::server::testing {

class FakeBackend : public CompletionBackend {
 public:
  ~FakeBackend() override {
    {
      std::lock_guard lock(mutex_);
      hold_ = false;
      shutting_down_ = true;
    }
    changed_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

  // Script (set before requests arrive).
  std::vector<std::string> pieces = {"Hello", ",", " world", "!"};
  FinishReason finish = FinishReason::kStop;
  bool endless = false;      // repeat `pieces` until cancelled or max_tokens
  bool fail_midway = false;  // send one piece, then kFailed
  Status submit_error;       // returned by Submit when not ok
  std::string chat_template;
  int prompt_tokens = 7, cached_tokens = 3;

  void Hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      hold_ = false;
    }
    changed_.notify_all();
  }

  Result<uint64_t> Submit(GenerationRequest request, EventSink sink) override {
    std::lock_guard lock(mutex_);
    if (!submit_error.ok()) return submit_error;
    uint64_t id = next_id_++;
    requests_[id] = request;
    threads_.emplace_back([this, id, request, sink] { Generate(id, request, sink); });
    return id;
  }

  void Cancel(uint64_t id) override {
    {
      std::lock_guard lock(mutex_);
      cancelled_.insert(id);
    }
    changed_.notify_all();
  }

  std::string ModelName() const override { return "tiny"; }
  std::string ChatTemplate() const override { return chat_template; }
  KvSnapshot SnapshotKv() const override {
    KvSnapshot kv{.tokens_per_block = 16, .blocks = {}};
    kv.blocks = {{KvBlockInfo::State::kUsed, 1, 2},
                 {KvBlockInfo::State::kUsed, 1, 1},
                 {KvBlockInfo::State::kCached, -1, 0},
                 {KvBlockInfo::State::kFree, -1, 0}};
    return kv;
  }
  std::string MetricsText() const override {
    return "# HELP kvik_engine_batch_size Tokens in the last step.\n"
           "# TYPE kvik_engine_batch_size gauge\nkvik_engine_batch_size 3\n";
  }

  // Test probes.
  bool WaitCancelled(uint64_t id) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return cancelled_.count(id) > 0; });
  }
  bool WaitSubmitted(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return requests_.size() >= count; });
  }
  bool cancelled(uint64_t id) {
    std::lock_guard lock(mutex_);
    return cancelled_.count(id) > 0;
  }
  GenerationRequest request(uint64_t id) {
    std::lock_guard lock(mutex_);
    return requests_.at(id);
  }
  size_t submitted() {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  void Generate(uint64_t id, GenerationRequest request, EventSink sink) {
    changed_.notify_all();  // WaitSubmitted
    auto event = [&](GenerationEvent::Kind kind) {
      GenerationEvent e;
      e.kind = kind;
      e.prompt_tokens = prompt_tokens;
      e.cached_tokens = cached_tokens;
      return e;
    };
    int sent = 0;
    for (size_t i = 0;; ++i) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !hold_ || cancelled_.count(id) || shutting_down_; });
        if (cancelled_.count(id) || shutting_down_) return;  // no final event after Cancel
      }
      if (!endless && i >= pieces.size()) break;
      if (sent == request.sampling.max_tokens) {
        GenerationEvent done = event(GenerationEvent::Kind::kFinished);
        done.finish = FinishReason::kLength;
        return sink(done);
      }
      GenerationEvent token = event(GenerationEvent::Kind::kToken);
      token.text = pieces[i % pieces.size()];
      sink(token);
      ++sent;
      if (fail_midway) {
        GenerationEvent failed = event(GenerationEvent::Kind::kFailed);
        failed.error = Status(StatusCode::kIoError, "device lost");
        return sink(failed);
      }
      if (endless) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    GenerationEvent done = event(GenerationEvent::Kind::kFinished);
    done.finish = finish;
    sink(done);
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false, shutting_down_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, GenerationRequest> requests_;
  std::set<uint64_t> cancelled_;
  std::vector<std::thread> threads_;
};

}  // namespace kvik::server::testing
