// One completion request on the HTTP side: the queue the backend's EventSink fills (engine
// thread), and the translation of its events into response bytes (HTTP thread) — stop strings,
// UTF-8 boundaries, max_tokens, usage and latency metrics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kvik/server.h"
#include "server/stop_strings.h"

namespace kvik::server {

using Clock = std::chrono::steady_clock;

// The server-wide series a session reports into (owned by the registry).
struct SessionMetrics {
  Counter* prompt_tokens = nullptr;
  Counter* cached_prompt_tokens = nullptr;
  Counter* completion_tokens = nullptr;
  Histogram* time_to_first_token = nullptr;
  Histogram* inter_token = nullptr;
  Histogram* request_duration = nullptr;
};

struct TimedEvent {
  GenerationEvent event;
  Clock::time_point arrived;
};

// Producer/consumer hand-off; the sink only locks and appends, so it never blocks the engine.
class EventQueue {
 public:
  void Push(GenerationEvent event);
  // Returns all queued events, waiting up to `timeout` for at least one.
  std::vector<TimedEvent> Take(std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<TimedEvent> events_;
};

class CompletionSession {
 public:
  CompletionSession(const CompletionRequest& request, ResponseMeta meta, SessionMetrics metrics);

  std::string Begin();  // the first bytes: the role chunk of a chat stream, else ""
  // Applies one backend event; returns bytes to send now (SSE when streaming, else "").
  std::string Apply(const TimedEvent& event);
  // Ends the request with an error (e.g. shutdown) unless it is already done.
  void Fail(ApiError error);
  // The last bytes, once done(): finish (+ usage) chunks and [DONE], or the whole JSON body.
  std::string End();

  bool done() const { return done_; }
  // True once the server, not the backend, ended generation (stop string, max_tokens): the
  // backend must be told to Cancel.
  bool ended_early() const { return ended_early_; }
  const Usage& usage() const { return usage_; }
  const std::string& text() const { return text_; }  // everything emitted so far
  FinishReason finish_reason() const { return finish_; }
  const std::optional<ApiError>& error() const { return error_; }

 private:
  std::string Emit(std::string text);
  void Finish(FinishReason reason);

  CompletionRequest request_;
  ResponseMeta meta_;
  SessionMetrics metrics_;
  StopStringMatcher stop_;
  Utf8Joiner utf8_;
  Clock::time_point started_ = Clock::now(), last_token_;
  std::string text_;  // the reply so far
  Usage usage_;
  FinishReason finish_ = FinishReason::kStop;
  std::optional<ApiError> error_;
  bool done_ = false, ended_early_ = false;
};

}  // namespace kvik::server
