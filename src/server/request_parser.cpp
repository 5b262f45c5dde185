// OpenAI request bodies → CompletionRequest. Every field is checked for type and range here, so
// the backend only ever sees values it can use; the error names the offending param as OpenAI does.
#include <cmath>
#include <nlohmann/json.hpp>

#include "kvik/server_api.h"

namespace kvik::server {
namespace {

using nlohmann::json;

ApiError BadRequest(std::string param, std::string code, std::string message) {
  return ApiError{.http_status = 400,
                  .message = std::move(message),
                  .type = "invalid_request_error",
                  .param = std::move(param),
                  .code = std::move(code)};
}

ApiError WrongType(const std::string& param, const char* expected) {
  return BadRequest(param, "invalid_type", "'" + param + "' must be " + expected);
}

// A present, non-null field; absent and null both mean "use the default", as in the OpenAI API.
const json* Field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<ApiError> ReadInt(const json& body, const char* name, int64_t min, int64_t max,
                                int64_t* out) {
  const json* value = Field(body, name);
  if (!value) return std::nullopt;
  if (!value->is_number_integer()) return WrongType(name, "an integer");
  // Unsigned values above INT64_MAX read as negative through get<int64_t>: check the sign first.
  if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(max)) {
    return BadRequest(name, "invalid_value",
                      "'" + std::string(name) + "' must be at most " + std::to_string(max));
  }
  int64_t number = value->get<int64_t>();
  if (number < min || number > max) {
    return BadRequest(name, "invalid_value",
                      "'" + std::string(name) + "' must be between " + std::to_string(min) +
                          " and " + std::to_string(max) + ", got " + std::to_string(number));
  }
  *out = number;
  return std::nullopt;
}

std::optional<ApiError> ReadFloat(const json& body, const char* name, double min, double max,
                                  float* out) {
  const json* value = Field(body, name);
  if (!value) return std::nullopt;
  if (!value->is_number()) return WrongType(name, "a number");
  double number = value->get<double>();
  if (!(number >= min && number <= max)) {  // also catches NaN
    return BadRequest(name, "invalid_value",
                      "'" + std::string(name) + "' must be between " + json(min).dump() + " and " +
                          json(max).dump());
  }
  *out = static_cast<float>(number);
  return std::nullopt;
}

std::optional<ApiError> ReadBool(const json& body, const char* name, bool* out) {
  const json* value = Field(body, name);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) return WrongType(name, "a boolean");
  *out = value->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> ReadStop(const json& body, std::vector<std::string>* stop) {
  constexpr size_t kMaxStops = 4;  // the OpenAI limit
  const json* value = Field(body, "stop");
  if (!value) return std::nullopt;
  if (value->is_string()) {
    stop->push_back(value->get<std::string>());
  } else if (value->is_array()) {
    if (value->size() > kMaxStops)
      return BadRequest("stop", "invalid_value", "'stop' takes at most 4 strings");
    for (const json& item : *value) {
      if (!item.is_string()) return WrongType("stop", "a string or an array of strings");
      stop->push_back(item.get<std::string>());
    }
  } else {
    return WrongType("stop", "a string or an array of strings");
  }
  for (const std::string& text : *stop) {
    // An empty stop string would match before the first token.
    if (text.empty())
      return BadRequest("stop", "invalid_value", "'stop' strings must be non-empty");
  }
  return std::nullopt;
}

std::optional<ApiError> ReadPrompt(const json& body, std::string* prompt) {
  const json* value = Field(body, "prompt");
  if (!value) return BadRequest("prompt", "missing_required_parameter", "'prompt' is required");
  if (value->is_string()) {
    *prompt = value->get<std::string>();
    return std::nullopt;
  }
  // A batch of prompts would need n choices per request; one prompt in an array is fine.
  if (value->is_array() && value->size() == 1 && (*value)[0].is_string()) {
    *prompt = (*value)[0].get<std::string>();
    return std::nullopt;
  }
  return WrongType("prompt", "a string (or an array of exactly one string)");
}

// "content" is a string or an array of parts; only {"type":"text","text":…} parts are supported.
std::optional<ApiError> ReadContent(const json& value, const std::string& param,
                                    std::string* content) {
  if (value.is_string()) {
    *content = value.get<std::string>();
    return std::nullopt;
  }
  if (!value.is_array()) return WrongType(param, "a string or an array of text parts");
  for (const json& part : value) {
    auto type = part.is_object() ? part.find("type") : json::const_iterator();
    auto text = part.is_object() ? part.find("text") : json::const_iterator();
    if (!part.is_object() || type == part.end() || *type != "text" || text == part.end() ||
        !text->is_string()) {
      return BadRequest(param, "invalid_value",
                        "'" + param + "' parts must be {\"type\": \"text\", \"text\": string}");
    }
    *content += text->get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> ReadMessages(const json& body, std::vector<ChatMessage>* messages) {
  const json* value = Field(body, "messages");
  if (!value) return BadRequest("messages", "missing_required_parameter", "'messages' is required");
  if (!value->is_array()) return WrongType("messages", "an array");
  if (value->empty()) return BadRequest("messages", "invalid_value", "'messages' is empty");
  for (size_t i = 0; i < value->size(); ++i) {
    const json& message = (*value)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) return WrongType(param, "an object");
    auto role = message.find("role");
    if (role == message.end() || !role->is_string()) return WrongType(param + ".role", "a string");
    ChatMessage out{.role = role->get<std::string>(), .content = ""};
    if (out.role == "developer") out.role = "system";  // OpenAI's newer name for the same thing
    if (out.role != "system" && out.role != "user" && out.role != "assistant") {
      return BadRequest(param + ".role", "invalid_value",
                        "'" + param + ".role' must be system, user or assistant");
    }
    auto content = message.find("content");
    if (content == message.end() || content->is_null())
      return BadRequest(param + ".content", "missing_required_parameter",
                        "'" + param + ".content' is required");
    if (auto error = ReadContent(*content, param + ".content", &out.content)) return error;
    messages->push_back(std::move(out));
  }
  return std::nullopt;
}

std::optional<ApiError> ReadSampling(const json& body, Endpoint endpoint,
                                     const ParseOptions& options, SamplingParams* sampling) {
  int64_t max_tokens = options.default_max_tokens;
  // Chat clients may send the newer max_completion_tokens; it wins when both are present.
  const char* max_name =
      endpoint == Endpoint::kChatCompletions && Field(body, "max_completion_tokens")
          ? "max_completion_tokens"
          : "max_tokens";
  if (auto e = ReadInt(body, max_name, 1, options.max_tokens_limit, &max_tokens)) return e;
  sampling->max_tokens = static_cast<int>(max_tokens);
  if (auto e = ReadFloat(body, "temperature", 0.0, 2.0, &sampling->temperature)) return e;
  if (auto e = ReadFloat(body, "top_p", 0.0, 1.0, &sampling->top_p)) return e;
  if (auto e = ReadFloat(body, "min_p", 0.0, 1.0, &sampling->min_p)) return e;
  int64_t top_k = 0;
  if (auto e = ReadInt(body, "top_k", -1, INT32_MAX, &top_k)) return e;
  sampling->top_k = top_k < 0 ? 0 : static_cast<int>(top_k);  // -1 = off, as in vLLM
  if (const json* seed = Field(body, "seed")) {
    if (!seed->is_number_integer()) return WrongType("seed", "an integer");
    // Negative seeds are legal in OpenAI's API; keep their bits.
    sampling->seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                                : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (auto e = ReadBool(body, "ignore_eos", &sampling->ignore_eos)) return e;
  int64_t n = 1;
  if (auto e = ReadInt(body, "n", 1, INT32_MAX, &n)) return e;
  if (n != 1) return BadRequest("n", "invalid_value", "only n = 1 is supported");
  return std::nullopt;
}

std::optional<ApiError> ReadRequest(const json& body, Endpoint endpoint,
                                    const ParseOptions& options, CompletionRequest* request) {
  if (!body.is_object()) return BadRequest("", "invalid_json", "the body must be a JSON object");
  request->endpoint = endpoint;
  if (const json* model = Field(body, "model")) {
    if (!model->is_string()) return WrongType("model", "a string");
    request->model = model->get<std::string>();
    if (!request->model.empty() && request->model != options.served_model) {
      return ApiError{.http_status = 404,
                      .message = "the model '" + request->model + "' does not exist; this " +
                                 "server serves '" + options.served_model + "'",
                      .type = "invalid_request_error",
                      .param = "model",
                      .code = "model_not_found"};
    }
  }
  if (endpoint == Endpoint::kCompletions) {
    if (auto e = ReadPrompt(body, &request->prompt)) return e;
  } else {
    if (auto e = ReadMessages(body, &request->messages)) return e;
  }
  if (auto e = ReadSampling(body, endpoint, options, &request->sampling)) return e;
  if (auto e = ReadStop(body, &request->stop)) return e;
  if (auto e = ReadBool(body, "stream", &request->stream)) return e;
  if (const json* stream_options = Field(body, "stream_options")) {
    if (!stream_options->is_object()) return WrongType("stream_options", "an object");
    if (auto e = ReadBool(*stream_options, "include_usage", &request->include_usage)) return e;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseCompletionRequest(std::string_view body, Endpoint endpoint,
                                               const ParseOptions& options,
                                               CompletionRequest* request) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return BadRequest("", "invalid_json", "the body is not valid JSON");
  }
  *request = CompletionRequest{};
  try {
    return ReadRequest(parsed, endpoint, options, request);
  } catch (const json::exception& e) {
    // Unreachable if every access above is type-checked; kept so a slip is a 400, not a crash.
    return BadRequest("", "invalid_value", std::string("malformed request: ") + e.what());
  }
}

}  // namespace kvik::server
