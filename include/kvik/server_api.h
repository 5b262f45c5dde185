// The OpenAI wire format, without HTTP: request bodies of POST /v1/completions and
// POST /v1/chat/completions parsed into a plain struct (or an OpenAI-style error), and the JSON /
// Server-Sent-Events bodies sent back. Pure functions; the HTTP shell is kvik/server.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvik::server {

enum class Endpoint { kCompletions, kChatCompletions };

// What goes wrong, as OpenAI reports it: HTTP status plus
// {"error": {"message", "type", "param", "code"}}. `param` empty = JSON null.
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // "server_error" for 5xx
  std::string param;
  std::string code;  // e.g. "invalid_json", "invalid_type", "invalid_value", "model_not_found"

  std::string ToJson() const;  // the body, ending in "\n"
};

// The errors the HTTP layer raises itself (the parser raises the 400s and the 404).
ApiError BodyTooLarge(size_t limit_bytes);    // 413
ApiError QueueFull(int max_queue);            // 429
ApiError ShuttingDown();                      // 503
ApiError InternalError(std::string message);  // 500

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant" ("developer" is read as "system")
  std::string content;
};

// Sampling controls, validated: the ranges are those of the OpenAI API.
struct SamplingParams {
  int max_tokens = 0;        // ≥ 1 and ≤ ParseOptions::max_tokens_limit
  float temperature = 1.0f;  // [0, 2]; 0 = greedy
  float top_p = 1.0f;        // [0, 1]
  int top_k = 0;             // ≥ 0; 0 (or -1 on the wire) = off
  float min_p = 0.0f;        // [0, 1]
  std::optional<uint64_t> seed;
  bool ignore_eos = false;   // llama-server / vLLM extension: generate past end-of-sequence
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;                  // as sent ("" when absent)
  std::string prompt;                 // /v1/completions only
  std::vector<ChatMessage> messages;  // /v1/chat/completions only, non-empty
  SamplingParams sampling;
  std::vector<std::string> stop;  // ≤ 4 non-empty strings
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk carrying usage
};

struct ParseOptions {
  std::string served_model;  // another non-empty "model" → 404 model_not_found
  int default_max_tokens = 256;
  int max_tokens_limit = 1 << 20;  // above → 400 (the backend also checks prompt + max ≤ context)
};

// Parses and validates a request body. Unknown fields are ignored (clients send many we do not
// use: presence_penalty, user, …), but a known field with a wrong type or range is an error; so is
// n ≠ 1. Never throws, whatever the bytes.
std::optional<ApiError> ParseCompletionRequest(std::string_view body, Endpoint endpoint,
                                               const ParseOptions& options,
                                               CompletionRequest* request);

enum class FinishReason { kStop, kLength };
const char* FinishReasonName(FinishReason reason);  // "stop" / "length"

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose KV came from the prefix cache
};

// The fields every response and chunk of one request shares.
struct ResponseMeta {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string id;       // "cmpl-…" / "chatcmpl-…"
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// Non-streaming bodies: "text_completion" / "chat.completion" objects with usage.
std::string CompletionResponseJson(const ResponseMeta& meta, std::string_view text,
                                   FinishReason finish, const Usage& usage);

// Streaming: each call returns one complete SSE event, "data: {...}\n\n".
// Chat streams start with a delta {"role":"assistant"} (StreamRoleChunk; nothing for completions),
// then one chunk per text piece, then a chunk with the finish_reason, then (include_usage) a chunk
// with empty choices and usage, then StreamDone().
std::string StreamRoleChunk(const ResponseMeta& meta);
std::string StreamTextChunk(const ResponseMeta& meta, std::string_view text);
std::string StreamFinishChunk(const ResponseMeta& meta, FinishReason finish);
std::string StreamUsageChunk(const ResponseMeta& meta, const Usage& usage);
std::string StreamErrorEvent(const ApiError& error);  // an error after the stream has begun
inline constexpr std::string_view kStreamDone = "data: [DONE]\n\n";

}  // namespace kvik::server
