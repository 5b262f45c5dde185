// libFuzzer target for the OpenAI request parser: any byte string, as either endpoint's body, must
// parse to a validated request or to a 4xx OpenAI error — never a crash, leak, hang or exception.
// A parsed request is checked against the documented ranges and rendered through every chat
// template and response builder, as the server would. Seeds: any JSON request bodies, e.g.
// echo '{"prompt":"x","max_tokens":5,"stop":["a"]}' > corpus/server/1.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "kvik/server_api.h"
#include "kvik/server_chat_template.h"

namespace {

volatile size_t g_sink = 0;  // keeps the rendering work from being optimised away

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckRequest(const kvik::server::CompletionRequest& r, kvik::server::Endpoint endpoint) {
  using kvik::server::Endpoint;
  const auto& s = r.sampling;
  Check(s.max_tokens >= 1 && s.max_tokens <= 4096);
  Check(s.temperature >= 0 && s.temperature <= 2);
  Check(s.top_p >= 0 && s.top_p <= 1 && s.min_p >= 0 && s.min_p <= 1 && s.top_k >= 0);
  Check(r.stop.size() <= 4);
  for (const auto& stop : r.stop) Check(!stop.empty());
  Check(r.model.empty() || r.model == "tiny");
  if (endpoint == Endpoint::kChatCompletions) {
    Check(!r.messages.empty());
    for (int family = 0; family <= static_cast<int>(kvik::server::ChatTemplateFamily::kGemma);
         ++family) {
      g_sink = g_sink + kvik::server::RenderChat(
                            static_cast<kvik::server::ChatTemplateFamily>(family), r.messages)
                            .size();
    }
  }
  kvik::server::ResponseMeta meta{endpoint, "id", 0, "tiny"};
  const std::string& text = endpoint == Endpoint::kCompletions ? r.prompt : r.messages[0].content;
  g_sink = g_sink + kvik::server::StreamTextChunk(meta, text).size() +
           kvik::server::CompletionResponseJson(meta, text, kvik::server::FinishReason::kStop, {})
               .size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  kvik::server::ParseOptions options{
      .served_model = "tiny", .default_max_tokens = 16, .max_tokens_limit = 4096};
  for (auto endpoint :
       {kvik::server::Endpoint::kCompletions, kvik::server::Endpoint::kChatCompletions}) {
    kvik::server::CompletionRequest request;
    auto error = kvik::server::ParseCompletionRequest(body, endpoint, options, &request);
    if (error) {
      Check(error->http_status == 400 || error->http_status == 404);
      Check(!error->message.empty());
      g_sink = g_sink + error->ToJson().size();
    } else {
      CheckRequest(request, endpoint);
    }
  }
  // The template detector takes any text too.
  g_sink = g_sink + static_cast<size_t>(kvik::server::DetectChatTemplate(body));
  return 0;
}
