// OpenAI request bodies → CompletionRequest, and every way a body can be refused.
#include <gtest/gtest.h>

#include <random>

#include "kvik/server_api.h"

namespace kvik::server {
namespace {

ParseOptions Options() {
  return ParseOptions{.served_model = "tiny", .default_max_tokens = 16, .max_tokens_limit = 4096};
}

CompletionRequest ParseOk(std::string_view body, Endpoint endpoint = Endpoint::kCompletions) {
  CompletionRequest request;
  auto error = ParseCompletionRequest(body, endpoint, Options(), &request);
  EXPECT_FALSE(error.has_value()) << body << " -> " << (error ? error->ToJson() : "");
  return request;
}

ApiError ParseError(std::string_view body, Endpoint endpoint = Endpoint::kCompletions) {
  CompletionRequest request;
  auto error = ParseCompletionRequest(body, endpoint, Options(), &request);
  EXPECT_TRUE(error.has_value()) << body;
  return error.value_or(ApiError{});
}

TEST(RequestParser, ReadsEveryCompletionField) {
  auto r = ParseOk(R"({"model":"tiny","prompt":"Once","max_tokens":5,"temperature":0.5,
      "top_p":0.9,"top_k":40,"min_p":0.05,"seed":7,"stop":["\n","END"],"stream":true,"n":1,
      "stream_options":{"include_usage":true},"presence_penalty":0,"user":"x"})");
  EXPECT_EQ(r.endpoint, Endpoint::kCompletions);
  EXPECT_EQ(r.model, "tiny");
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_EQ(r.sampling.max_tokens, 5);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_EQ(r.sampling.seed, 7u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(RequestParser, DefaultsApplyWhenFieldsAreAbsentOrNull) {
  auto r = ParseOk(R"({"prompt":"x","max_tokens":null,"temperature":null,"stop":null})");
  EXPECT_EQ(r.sampling.max_tokens, 16);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_FALSE(r.sampling.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.model, "");
}

TEST(RequestParser, StopMayBeAStringAndPromptAOneStringArray) {
  auto r = ParseOk(R"({"prompt":["only one"],"stop":"###"})");
  EXPECT_EQ(r.prompt, "only one");
  EXPECT_EQ(r.stop, std::vector<std::string>{"###"});
}

TEST(RequestParser, TopKMinusOneMeansOffAndNegativeSeedsKeepTheirBits) {
  auto r = ParseOk(R"({"prompt":"x","top_k":-1,"seed":-1})");
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_EQ(r.sampling.seed, UINT64_MAX);
}

TEST(RequestParser, ReadsChatMessagesWithStringOrTextPartContent) {
  auto r = ParseOk(R"({"messages":[{"role":"developer","content":"Be brief."},
      {"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},
      {"role":"assistant","content":"Hello"}],"max_completion_tokens":3,"max_tokens":9})",
                   Endpoint::kChatCompletions);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "Hi there");
  EXPECT_EQ(r.messages[2].role, "assistant");
  EXPECT_EQ(r.sampling.max_tokens, 3);  // max_completion_tokens wins
}

TEST(RequestParser, MalformedJsonIs400InvalidJson) {
  for (const char* body : {"", "{", "{\"prompt\":", "not json", "{\"prompt\":\"x\",}", "[1,2",
                           "\"just a string\"", "[]", "null", "42"}) {
    ApiError e = ParseError(body);
    EXPECT_EQ(e.http_status, 400) << body;
    EXPECT_EQ(e.code, "invalid_json") << body;
    EXPECT_EQ(e.type, "invalid_request_error");
  }
}

TEST(RequestParser, WrongTypesAre400NamingTheParam) {
  struct Case {
    const char* body;
    const char* param;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"prompt":5})", "prompt"},
           {R"({"prompt":["a","b"]})", "prompt"},
           {R"({"prompt":"x","max_tokens":"10"})", "max_tokens"},
           {R"({"prompt":"x","max_tokens":2.5})", "max_tokens"},
           {R"({"prompt":"x","temperature":"hot"})", "temperature"},
           {R"({"prompt":"x","top_p":true})", "top_p"},
           {R"({"prompt":"x","top_k":1.5})", "top_k"},
           {R"({"prompt":"x","seed":"1"})", "seed"},
           {R"({"prompt":"x","stop":3})", "stop"},
           {R"({"prompt":"x","stop":["a",1]})", "stop"},
           {R"({"prompt":"x","stream":"yes"})", "stream"},
           {R"({"prompt":"x","stream_options":{"include_usage":1}})", "include_usage"},
           {R"({"prompt":"x","model":7})", "model"},
           {R"({"prompt":"x","n":"1"})", "n"},
       }) {
    ApiError e = ParseError(c.body);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_EQ(e.code, "invalid_type") << c.body;
  }
}

TEST(RequestParser, OutOfRangeValuesAre400) {
  struct Case {
    const char* body;
    const char* param;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"prompt":"x","max_tokens":0})", "max_tokens"},
           {R"({"prompt":"x","max_tokens":-5})", "max_tokens"},
           {R"({"prompt":"x","max_tokens":4097})", "max_tokens"},
           {R"({"prompt":"x","max_tokens":99999999999999999999})", "max_tokens"},
           {R"({"prompt":"x","max_tokens":18446744073709551615})", "max_tokens"},
           {R"({"prompt":"x","temperature":-0.1})", "temperature"},
           {R"({"prompt":"x","temperature":2.5})", "temperature"},
           {R"({"prompt":"x","top_p":1.5})", "top_p"},
           {R"({"prompt":"x","min_p":-1})", "min_p"},
           {R"({"prompt":"x","top_k":-2})", "top_k"},
           {R"({"prompt":"x","n":2})", "n"},
           {R"({"prompt":"x","n":0})", "n"},
           {R"({"prompt":"x","stop":["a","b","c","d","e"]})", "stop"},
           {R"({"prompt":"x","stop":""})", "stop"},
       }) {
    ApiError e = ParseError(c.body);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
  }
}

TEST(RequestParser, ANumberBeyondDoubleIsMalformedJson) {
  ApiError e = ParseError(R"({"prompt":"x","temperature":1e400})");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.code, "invalid_json");
}

TEST(RequestParser, MissingOrBadPromptAndMessagesAre400) {
  EXPECT_EQ(ParseError(R"({"max_tokens":3})").param, "prompt");
  EXPECT_EQ(ParseError(R"({"prompt":"x"})", Endpoint::kChatCompletions).param, "messages");
  EXPECT_EQ(ParseError(R"({"messages":[]})", Endpoint::kChatCompletions).param, "messages");
  EXPECT_EQ(ParseError(R"({"messages":{}})", Endpoint::kChatCompletions).param, "messages");
  EXPECT_EQ(ParseError(R"({"messages":["hi"]})", Endpoint::kChatCompletions).param, "messages[0]");
  EXPECT_EQ(ParseError(R"({"messages":[{"content":"hi"}]})", Endpoint::kChatCompletions).param,
            "messages[0].role");
  EXPECT_EQ(
      ParseError(R"({"messages":[{"role":"robot","content":"hi"}]})", Endpoint::kChatCompletions)
          .param,
      "messages[0].role");
  EXPECT_EQ(ParseError(R"({"messages":[{"role":"user","content":"a"},{"role":"user"}]})",
                       Endpoint::kChatCompletions)
                .param,
            "messages[1].content");
  EXPECT_EQ(ParseError(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
                       Endpoint::kChatCompletions)
                .param,
            "messages[0].content");
}

TEST(RequestParser, AnotherModelIs404ModelNotFound) {
  ApiError e = ParseError(R"({"model":"gpt-4","prompt":"x"})");
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_EQ(e.param, "model");
  EXPECT_NE(e.message.find("gpt-4"), std::string::npos);
}

TEST(RequestParser, InvalidUtf8InAStringIsMalformedJson) {
  EXPECT_EQ(ParseError("{\"prompt\":\"\xff\xfe\"}").code, "invalid_json");
}

TEST(RequestParser, ErrorJsonHasTheOpenAiShape) {
  ApiError e = ParseError(R"({"prompt":"x","temperature":-1})");
  EXPECT_EQ(e.ToJson(),
            "{\"error\":{\"message\":\"'temperature' must be between 0.0 and 2.0\","
            "\"type\":\"invalid_request_error\",\"param\":\"temperature\","
            "\"code\":\"invalid_value\"}}\n");
  EXPECT_EQ(ParseError("{").ToJson(),
            "{\"error\":{\"message\":\"the body is not valid JSON\",\"type\":"
            "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_json\"}}\n");
}

// Fuzz-like: random bytes, truncations and mutations of a valid body never crash, and every
// outcome is a request or a 4xx error.
TEST(RequestParser, RandomAndTruncatedBodiesNeverCrash) {
  const std::string valid = R"({"model":"tiny","messages":[{"role":"system","content":"s"},)"
                            R"({"role":"user","content":[{"type":"text","text":"hé"}]}],)"
                            R"("max_tokens":5,"temperature":0.7,"stop":["a","b"],"seed":3,)"
                            R"("stream":true,"stream_options":{"include_usage":true}})";
  std::mt19937 rng(1234);
  auto check = [](const std::string& body) {
    for (Endpoint endpoint : {Endpoint::kCompletions, Endpoint::kChatCompletions}) {
      CompletionRequest request;
      auto error = ParseCompletionRequest(body, endpoint, Options(), &request);
      if (error) {
        EXPECT_TRUE(error->http_status == 400 || error->http_status == 404);
        EXPECT_FALSE(error->ToJson().empty());
      }
    }
  };
  for (size_t n = 0; n <= valid.size(); ++n) check(valid.substr(0, n));
  for (int i = 0; i < 2000; ++i) {
    std::string body = valid;
    for (int edits = 1 + rng() % 4; edits > 0; --edits) {
      size_t at = rng() % body.size();
      switch (rng() % 3) {
        case 0:
          body[at] = static_cast<char>(rng());
          break;
        case 1:
          body.erase(at, 1 + rng() % 8);
          break;
        default:
          body.insert(at, 1, "{}[]\":,0-e."[rng() % 11]);
          break;
      }
      if (body.empty()) break;
    }
    check(body);
  }
  for (int i = 0; i < 500; ++i) {
    std::string body(rng() % 64, '\0');
    for (char& c : body) c = static_cast<char>(rng());
    check(body);
  }
  check(std::string(100000, '['));  // deep nesting
  check(std::string(50000, '[') + std::string(50000, ']'));
}

}  // namespace
}  // namespace kvik::server
