// Backend events → response bytes for one request (see completion_session.h).
#include "server/completion_session.h"

namespace kvik::server {
namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void EventQueue::Push(GenerationEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(TimedEvent{std::move(event), Clock::now()});
  }
  ready_.notify_one();
}

std::vector<TimedEvent> EventQueue::Take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return !events_.empty(); });
  std::vector<TimedEvent> out;
  out.swap(events_);
  return out;
}

CompletionSession::CompletionSession(const CompletionRequest& request, ResponseMeta meta,
                                     SessionMetrics metrics)
    : request_(request), meta_(std::move(meta)), metrics_(metrics), stop_(request.stop) {}

std::string CompletionSession::Begin() {
  if (request_.stream && meta_.endpoint == Endpoint::kChatCompletions) {
    return StreamRoleChunk(meta_);
  }
  return "";
}

std::string CompletionSession::Emit(std::string text) {
  if (text.empty()) return "";
  text_ += text;  // the whole reply: the JSON body, and what a prompt cache stores
  if (!request_.stream) return "";
  return StreamTextChunk(meta_, text);
}

void CompletionSession::Finish(FinishReason reason) {
  done_ = true;
  finish_ = reason;
}

std::string CompletionSession::Apply(const TimedEvent& timed) {
  if (done_) return "";  // events after a stop string or max_tokens: the backend is cancelling
  const GenerationEvent& event = timed.event;
  usage_.prompt_tokens = std::max(usage_.prompt_tokens, event.prompt_tokens);
  usage_.cached_tokens = std::max(usage_.cached_tokens, event.cached_tokens);
  switch (event.kind) {
    case GenerationEvent::Kind::kToken: {
      ++usage_.completion_tokens;
      if (usage_.completion_tokens == 1) {
        metrics_.time_to_first_token->Observe(Seconds(timed.arrived - started_));
      } else {
        metrics_.inter_token->Observe(Seconds(timed.arrived - last_token_));
      }
      last_token_ = timed.arrived;
      std::string text = utf8_.Push(stop_.Push(event.text));
      if (stop_.stopped()) {
        Finish(FinishReason::kStop);
      } else if (usage_.completion_tokens >= request_.sampling.max_tokens) {
        // The backend should have stopped itself; enforcing it here keeps the contract visible.
        text += utf8_.Push(stop_.Flush());
        Finish(FinishReason::kLength);
      }
      if (done_) {
        ended_early_ = true;
        text += utf8_.Flush();
      }
      return Emit(std::move(text));
    }
    case GenerationEvent::Kind::kFinished: {
      std::string text = utf8_.Push(stop_.Flush());
      text += utf8_.Flush();
      Finish(event.finish);
      return Emit(std::move(text));
    }
    case GenerationEvent::Kind::kFailed:
      Fail(InternalError("generation failed: " + event.error.ToString()));
      return "";
  }
  return "";
}

void CompletionSession::Fail(ApiError error) {
  if (done_) return;
  done_ = true;
  error_ = std::move(error);
}

std::string CompletionSession::End() {
  metrics_.prompt_tokens->Increment(usage_.prompt_tokens);
  metrics_.cached_prompt_tokens->Increment(usage_.cached_tokens);
  metrics_.completion_tokens->Increment(usage_.completion_tokens);
  metrics_.request_duration->Observe(Seconds(Clock::now() - started_));
  if (error_) {
    return request_.stream ? StreamErrorEvent(*error_) + std::string(kStreamDone)
                           : error_->ToJson();
  }
  if (!request_.stream) return CompletionResponseJson(meta_, text_, finish_, usage_);
  std::string out = StreamFinishChunk(meta_, finish_);
  if (request_.include_usage) out += StreamUsageChunk(meta_, usage_);
  out.append(kStreamDone);
  return out;
}

}  // namespace kvik::server
