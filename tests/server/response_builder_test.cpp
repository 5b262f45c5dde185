// OpenAI response bodies and SSE chunks, compared as exact strings.
#include <gtest/gtest.h>

#include "kvik/server_api.h"

namespace kvik::server {
namespace {

const ResponseMeta kCompletion{Endpoint::kCompletions, "cmpl-1", 1700000000, "tiny"};
const ResponseMeta kChat{Endpoint::kChatCompletions, "chatcmpl-1", 1700000000, "tiny"};
const Usage kUsage{.prompt_tokens = 7, .completion_tokens = 3, .cached_tokens = 4};
const char kUsageJson[] =
    "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10,"
    "\"prompt_tokens_details\":{\"cached_tokens\":4}}";

TEST(ResponseBuilder, TextCompletion) {
  EXPECT_EQ(CompletionResponseJson(kCompletion, "Hi \"you\"", FinishReason::kLength, kUsage),
            "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,"
            "\"model\":\"tiny\",\"choices\":[{\"index\":0,\"text\":\"Hi \\\"you\\\"\","
            "\"logprobs\":null,\"finish_reason\":\"length\"}]," +
                std::string(kUsageJson) + "}\n");
}

TEST(ResponseBuilder, ChatCompletion) {
  EXPECT_EQ(CompletionResponseJson(kChat, "Hello.", FinishReason::kStop, kUsage),
            "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
            "\"model\":\"tiny\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
            "\"content\":\"Hello.\"},\"logprobs\":null,\"finish_reason\":\"stop\"}]," +
                std::string(kUsageJson) + "}\n");
}

TEST(ResponseBuilder, CompletionStreamChunks) {
  const std::string head =
      "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1700000000,"
      "\"model\":\"tiny\",";
  EXPECT_EQ(StreamRoleChunk(kCompletion).substr(0, head.size()), head.substr(0, head.size()));
  EXPECT_EQ(StreamTextChunk(kCompletion, "ab\n"),
            head +
                "\"choices\":[{\"index\":0,\"text\":\"ab\\n\",\"logprobs\":null,"
                "\"finish_reason\":null}]}\n\n");
  EXPECT_EQ(StreamFinishChunk(kCompletion, FinishReason::kStop),
            head +
                "\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,"
                "\"finish_reason\":\"stop\"}]}\n\n");
  EXPECT_EQ(StreamUsageChunk(kCompletion, kUsage), head + "\"choices\":[]," + kUsageJson + "}\n\n");
  EXPECT_EQ(kStreamDone, "data: [DONE]\n\n");
}

TEST(ResponseBuilder, ChatStreamChunksUseDeltas) {
  const std::string head =
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
      "\"model\":\"tiny\",\"choices\":[{\"index\":0,";
  EXPECT_EQ(StreamRoleChunk(kChat),
            head +
                "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
                "\"finish_reason\":null}]}\n\n");
  EXPECT_EQ(
      StreamTextChunk(kChat, "Hel"),
      head + "\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  EXPECT_EQ(StreamFinishChunk(kChat, FinishReason::kLength),
            head + "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n");
}

TEST(ResponseBuilder, InvalidUtf8IsReplacedNotThrown) {
  std::string chunk = StreamTextChunk(kChat,
                                      "a\xff"
                                      "b");
  EXPECT_NE(chunk.find("a\xEF\xBF\xBD"
                       "b"),
            std::string::npos)
      << chunk;
}

TEST(ResponseBuilder, ErrorsForTheHttpLayer) {
  EXPECT_EQ(BodyTooLarge(100).http_status, 413);
  EXPECT_EQ(QueueFull(2).http_status, 429);
  EXPECT_EQ(ShuttingDown().http_status, 503);
  EXPECT_EQ(ShuttingDown().ToJson(),
            "{\"error\":{\"message\":\"the server is shutting down\",\"type\":\"server_error\","
            "\"param\":null,\"code\":\"shutting_down\"}}\n");
  EXPECT_EQ(StreamErrorEvent(ShuttingDown()),
            "data: {\"error\":{\"message\":\"the server is shutting down\",\"type\":"
            "\"server_error\",\"param\":null,\"code\":\"shutting_down\"}}\n\n");
}

}  // namespace
}  // namespace kvik::server
