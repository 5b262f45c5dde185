// OpenAI response bodies: errors, completion objects and SSE chunks. Field order and names follow
// the OpenAI API reference so that its client libraries parse them unchanged.
#include <nlohmann/json.hpp>

#include "kvik/server_api.h"

namespace kvik::server {
namespace {

using ordered_json = nlohmann::ordered_json;

// Generated text may end inside a UTF-8 sequence or hold invalid bytes (byte-fallback tokens):
// replace them with U+FFFD instead of letting dump() throw.
std::string Dump(const ordered_json& value) {
  return value.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

bool IsChat(const ResponseMeta& meta) { return meta.endpoint == Endpoint::kChatCompletions; }

ordered_json Header(const ResponseMeta& meta, bool chunk) {
  ordered_json out;
  out["id"] = meta.id;
  if (IsChat(meta)) {
    out["object"] = chunk ? "chat.completion.chunk" : "chat.completion";
  } else {
    out["object"] = "text_completion";
  }
  out["created"] = meta.created;
  out["model"] = meta.model;
  return out;
}

ordered_json UsageJson(const Usage& usage) {
  ordered_json out;
  out["prompt_tokens"] = usage.prompt_tokens;
  out["completion_tokens"] = usage.completion_tokens;
  out["total_tokens"] = usage.prompt_tokens + usage.completion_tokens;
  out["prompt_tokens_details"]["cached_tokens"] = usage.cached_tokens;
  return out;
}

// One element of "choices" for a streamed chunk: `delta` for chat, `text` for completions.
ordered_json StreamChoice(const ResponseMeta& meta, ordered_json delta_or_text,
                          const char* finish_reason) {
  ordered_json choice;
  choice["index"] = 0;
  choice[IsChat(meta) ? "delta" : "text"] = std::move(delta_or_text);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason ? ordered_json(finish_reason) : ordered_json(nullptr);
  return choice;
}

std::string Event(const ordered_json& payload) { return "data: " + Dump(payload) + "\n\n"; }

ApiError Make(int status, std::string type, std::string code, std::string message) {
  return ApiError{.http_status = status,
                  .message = std::move(message),
                  .type = std::move(type),
                  .param = "",
                  .code = std::move(code)};
}

}  // namespace

std::string ApiError::ToJson() const {
  ordered_json error;
  error["message"] = message;
  error["type"] = type;
  error["param"] = param.empty() ? ordered_json(nullptr) : ordered_json(param);
  error["code"] = code.empty() ? ordered_json(nullptr) : ordered_json(code);
  ordered_json body;
  body["error"] = std::move(error);
  return Dump(body) + "\n";
}

ApiError BodyTooLarge(size_t limit_bytes) {
  return Make(413, "invalid_request_error", "request_too_large",
              "the request body is larger than the server's limit of " +
                  std::to_string(limit_bytes) + " bytes");
}

ApiError QueueFull(int max_queue) {
  return Make(
      429, "invalid_request_error", "queue_full",
      "too many requests are waiting (limit " + std::to_string(max_queue) + "); retry later");
}

ApiError ShuttingDown() {
  return Make(503, "server_error", "shutting_down", "the server is shutting down");
}

ApiError InternalError(std::string message) {
  return Make(500, "server_error", "internal_error", std::move(message));
}

const char* FinishReasonName(FinishReason reason) {
  return reason == FinishReason::kLength ? "length" : "stop";
}

std::string CompletionResponseJson(const ResponseMeta& meta, std::string_view text,
                                   FinishReason finish, const Usage& usage) {
  ordered_json body = Header(meta, /*chunk=*/false);
  ordered_json choice;
  choice["index"] = 0;
  if (IsChat(meta)) {
    choice["message"]["role"] = "assistant";
    choice["message"]["content"] = std::string(text);
  } else {
    choice["text"] = std::string(text);
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = FinishReasonName(finish);
  body["choices"] = ordered_json::array({std::move(choice)});
  body["usage"] = UsageJson(usage);
  return Dump(body) + "\n";
}

std::string StreamRoleChunk(const ResponseMeta& meta) {
  ordered_json body = Header(meta, /*chunk=*/true);
  ordered_json delta;
  delta["role"] = "assistant";
  delta["content"] = "";
  body["choices"] = ordered_json::array({StreamChoice(meta, std::move(delta), nullptr)});
  return Event(body);
}

std::string StreamTextChunk(const ResponseMeta& meta, std::string_view text) {
  ordered_json body = Header(meta, /*chunk=*/true);
  ordered_json piece;
  if (IsChat(meta)) {
    piece["content"] = std::string(text);
  } else {
    piece = std::string(text);
  }
  body["choices"] = ordered_json::array({StreamChoice(meta, std::move(piece), nullptr)});
  return Event(body);
}

std::string StreamFinishChunk(const ResponseMeta& meta, FinishReason finish) {
  ordered_json body = Header(meta, /*chunk=*/true);
  ordered_json empty = IsChat(meta) ? ordered_json::object() : ordered_json("");
  body["choices"] =
      ordered_json::array({StreamChoice(meta, std::move(empty), FinishReasonName(finish))});
  return Event(body);
}

std::string StreamUsageChunk(const ResponseMeta& meta, const Usage& usage) {
  ordered_json body = Header(meta, /*chunk=*/true);
  body["choices"] = ordered_json::array();
  body["usage"] = UsageJson(usage);
  return Event(body);
}

std::string StreamErrorEvent(const ApiError& error) {
  std::string json = error.ToJson();
  json.pop_back();  // the trailing "\n"
  return "data: " + json + "\n\n";
}

}  // namespace kvik::server
