// The HTTP shell against a scripted backend, through a real client on loopback.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "fake_backend.h"
#include "kvik/server.h"

namespace kvik::server {
namespace {

using nlohmann::json;

// Splits an SSE body into the JSON payloads of its "data: " events ("[DONE]" kept as is).
std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated event in: " << body;
    if (end == std::string::npos) break;
    std::string event = body.substr(at, end - at);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    out.push_back(event.substr(6));
    at = end + 2;
  }
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.port = 0;
    options.max_tokens_limit = 1000;
    server_ = std::make_unique<HttpServer>(backend_, options);
    auto port = server_->Bind();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
    thread_ = std::thread([this] { server_->Run(); });
    client_ = Client();
  }
  std::unique_ptr<httplib::Client> Client() {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(20, 0);
    return client;
  }
  void TearDown() override {
    if (server_) server_->Stop(std::chrono::milliseconds(0));
    if (thread_.joinable()) thread_.join();
  }
  httplib::Result Post(const std::string& path, const std::string& body) {
    return client_->Post(path.c_str(), body, "application/json");
  }
  bool WaitInFlight(int n) {
    for (int i = 0; i < 1000 && server_->in_flight() != n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return server_->in_flight() == n;
  }
  void ExpectError(const httplib::Result& res, int status, const std::string& code) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    ASSERT_TRUE(body.contains("error")) << res->body;
    EXPECT_EQ(body["error"]["code"], code) << res->body;
    EXPECT_TRUE(body["error"]["message"].is_string());
    EXPECT_TRUE(body["error"]["type"].is_string());
    EXPECT_TRUE(body["error"].contains("param"));
  }

  testing::FakeBackend backend_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, NonStreamingCompletion) {
  Start();
  auto res = Post("/v1/completions", R"({"model":"tiny","prompt":"Once","max_tokens":10})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["model"], "tiny");
  EXPECT_EQ(body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(body["choices"][0]["text"], "Hello, world!");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["usage"], json::parse(R"({"prompt_tokens":7,"completion_tokens":4,
      "total_tokens":11,"prompt_tokens_details":{"cached_tokens":3}})"));
  EXPECT_EQ(backend_.request(1).prompt, "Once");
  EXPECT_EQ(backend_.request(1).sampling.max_tokens, 10);
  EXPECT_TRUE(WaitInFlight(0));
}

TEST_F(HttpServerTest, ChatAppliesTheModelsChatTemplate) {
  backend_.chat_template = "{{ '<|im_start|>' + m['role'] }}";
  Start();
  auto res = Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Hello, world!");
  EXPECT_EQ(backend_.request(1).prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(backend_.request(1).sampling.max_tokens, 256);  // the server default
}

TEST_F(HttpServerTest, StreamingCompletionEndsWithDone) {
  Start();
  auto res = Post("/v1/completions", R"({"prompt":"Once","stream":true})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  auto events = SseData(res->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    text += chunk["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "Hello, world!");
  EXPECT_EQ(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"], "stop");
}

TEST_F(HttpServerTest, StreamingChatSendsRoleThenContentThenUsage) {
  Start();
  auto res = Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"Hi"}],
      "stream":true,"stream_options":{"include_usage":true},"max_tokens":3})");
  ASSERT_TRUE(res);
  auto events = SseData(res->body);
  ASSERT_EQ(events.size(), 7u) << res->body;  // role, 3 pieces, finish, usage, [DONE]
  EXPECT_EQ(json::parse(events[0])["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (int i = 1; i <= 3; ++i) {
    json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    text += chunk["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "Hello, world");
  EXPECT_EQ(json::parse(events[4])["choices"][0]["finish_reason"], "length");
  json usage = json::parse(events[5]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  EXPECT_EQ(events[6], "[DONE]");
}

TEST_F(HttpServerTest, StopStringTrimsTheTextAndCancelsTheSequence) {
  Start();
  auto res = Post("/v1/completions", R"({"prompt":"x","stop":[" wor"]})");
  ASSERT_TRUE(res);
  json body = json::parse(res->body);
  EXPECT_EQ(body["choices"][0]["text"], "Hello,");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["usage"]["completion_tokens"], 3);
  EXPECT_TRUE(backend_.WaitCancelled(1));
}

TEST_F(HttpServerTest, StreamedStopStringSplitAcrossTokensNeverLeaks) {
  backend_.pieces = {"The", " an", "swer", " is", " END", " more"};
  Start();
  auto res = Post("/v1/completions", R"({"prompt":"x","stream":true,"stop":"swer is"})");
  ASSERT_TRUE(res);
  std::string text;
  for (const std::string& data : SseData(res->body)) {
    if (data != "[DONE]") text += json::parse(data)["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "The an");
}

TEST_F(HttpServerTest, BadRequestsGetOpenAiErrors) {
  ServerOptions options;
  options.max_body_bytes = 2000;
  Start(options);
  ExpectError(Post("/v1/completions", "{not json"), 400, "invalid_json");
  ExpectError(Post("/v1/completions", R"({"prompt":1})"), 400, "invalid_type");
  ExpectError(Post("/v1/completions", R"({"prompt":"x","max_tokens":-1})"), 400, "invalid_value");
  ExpectError(Post("/v1/completions", R"({"prompt":"x","max_tokens":1000000})"), 400,
              "invalid_value");
  ExpectError(Post("/v1/completions", R"({"prompt":"x","temperature":-1})"), 400, "invalid_value");
  ExpectError(Post("/v1/completions", R"({"prompt":"x","n":3})"), 400, "invalid_value");
  ExpectError(Post("/v1/chat/completions", R"({"messages":"hi"})"), 400, "invalid_type");
  ExpectError(Post("/v1/completions", R"({"model":"gpt-4","prompt":"x"})"), 404, "model_not_found");
  ExpectError(Post("/v1/completions", "{\"prompt\":\"" + std::string(5000, 'a') + "\"}"), 413,
              "request_too_large");
  ExpectError(client_->Get("/v1/nothing"), 404, "not_found");
  EXPECT_EQ(backend_.submitted(), 0u);
  // The server keeps serving after all of that.
  EXPECT_EQ(Post("/v1/completions", R"({"prompt":"x"})")->status, 200);
}

TEST_F(HttpServerTest, BackendRefusalsMapToStatusCodes) {
  Start();
  backend_.submit_error = OutOfRange("prompt (5000 tokens) + max_tokens exceed the context (2048)");
  ExpectError(Post("/v1/completions", R"({"prompt":"x"})"), 400, "invalid_value");
  backend_.submit_error = ResourceExhausted("engine queue full");
  ExpectError(Post("/v1/completions", R"({"prompt":"x"})"), 429, "queue_full");
  backend_.submit_error = IoError("boom");
  ExpectError(Post("/v1/completions", R"({"prompt":"x"})"), 500, "internal_error");
  EXPECT_EQ(server_->in_flight(), 0);
}

TEST_F(HttpServerTest, GenerationFailureAfterAdmissionIsReportedInTheBody) {
  backend_.fail_midway = true;
  Start();
  auto res = Post("/v1/completions", R"({"prompt":"x","stream":true})");
  ASSERT_TRUE(res);
  auto events = SseData(res->body);
  ASSERT_EQ(events.size(), 3u) << res->body;  // one piece, the error, [DONE]
  EXPECT_EQ(json::parse(events[1])["error"]["code"], "internal_error");
  EXPECT_EQ(events[2], "[DONE]");
  res = Post("/v1/completions", R"({"prompt":"x"})");
  EXPECT_NE(json::parse(res->body)["error"]["message"].get<std::string>().find("device lost"),
            std::string::npos);
}

TEST_F(HttpServerTest, TooManyRequestsInProgressGet429) {
  ServerOptions options;
  options.max_queue = 2;
  Start(options);
  backend_.Hold();
  std::vector<std::thread> clients;
  std::vector<int> statuses(2, 0);
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([this, i, &statuses] {
      auto res =
          Client()->Post("/v1/completions", R"({"prompt":"x","stream":true})", "application/json");
      statuses[i] = res ? res->status : -1;
    });
  }
  ASSERT_TRUE(backend_.WaitSubmitted(2));
  ExpectError(Post("/v1/completions", R"({"prompt":"x"})"), 429, "queue_full");
  EXPECT_EQ(client_->Get("/health")->status, 200);  // other routes still answer
  backend_.Release();
  for (auto& client : clients) client.join();
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
  EXPECT_TRUE(WaitInFlight(0));
  EXPECT_EQ(Post("/v1/completions", R"({"prompt":"x"})")->status, 200);
}

TEST_F(HttpServerTest, StreamingClientDisconnectCancelsTheSequence) {
  backend_.endless = true;
  Start();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = R"({"prompt":"x","stream":true,"max_tokens":1000})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  client_->send(req);  // the receiver's false closes the connection
  EXPECT_TRUE(backend_.WaitCancelled(1));
  EXPECT_TRUE(WaitInFlight(0));
  EXPECT_NE(client_->Get("/metrics")->body.find("kvik_server_client_disconnects_total 1\n"),
            std::string::npos);
}

TEST_F(HttpServerTest, NonStreamingClientDisconnectCancelsWhileWaiting) {
  Start();
  backend_.Hold();  // no token ever comes: only the socket poll can notice the hang-up
  auto client = Client();
  client->set_read_timeout(0, 200000);  // gives up after 200 ms and closes
  auto res = client->Post("/v1/completions", R"({"prompt":"x"})", "application/json");
  EXPECT_FALSE(res);
  EXPECT_TRUE(backend_.WaitCancelled(1));
  EXPECT_TRUE(WaitInFlight(0));
}

TEST_F(HttpServerTest, ModelsHealthKvAndPage) {
  Start();
  json models = json::parse(client_->Get("/v1/models")->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "tiny");
  EXPECT_EQ(client_->Get("/health")->body, "{\"status\":\"ok\"}\n");
  json kv = json::parse(client_->Get("/kv")->body);
  EXPECT_EQ(kv["num_blocks"], 4);
  EXPECT_EQ(kv["counts"], json::parse(R"({"free":1,"cached":1,"used":2,"shared":1})"));
  EXPECT_EQ(kv["blocks"], json::parse("[[3,1,2],[2,1,1],[1,-1,0],[0,-1,0]]"));
  auto page = client_->Get("/");
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<canvas"), std::string::npos);
  EXPECT_NE(page->body.find("fetch(\"/kv\""), std::string::npos);
  EXPECT_NE(page->body.find("setTimeout(refresh, 500)"), std::string::npos);
}

TEST_F(HttpServerTest, MetricsCoverServerKvAndEngine) {
  Start();
  ASSERT_EQ(Post("/v1/completions", R"({"prompt":"x","max_tokens":2})")->status, 200);
  Post("/v1/completions", "{");
  // The access log and the in-flight count are updated just after the last byte is sent: wait
  // until both requests show up there.
  auto res = client_->Get("/metrics");
  for (int i = 0; i < 1000 && res && res->body.find("code=\"400\"} 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    res = client_->Get("/metrics");
  }
  ASSERT_TRUE(WaitInFlight(0));
  res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = res->body;
  for (const char* expected : {
           "# TYPE kvik_server_time_to_first_token_seconds histogram\n",
           "kvik_server_time_to_first_token_seconds_count 1\n",
           "kvik_server_inter_token_seconds_count 1\n",
           "kvik_server_prompt_tokens_total 7\n",
           "kvik_server_cached_prompt_tokens_total 3\n",
           "kvik_server_completion_tokens_total 2\n",
           "kvik_server_requests_in_flight 0\n",
           "kvik_kv_blocks{state=\"used\"} 2\n",
           "kvik_kv_blocks{state=\"shared\"} 1\n",
           "kvik_http_requests_total{route=\"/v1/completions\",code=\"200\"} 1\n",
           "kvik_http_requests_total{route=\"/v1/completions\",code=\"400\"} 1\n",
           "kvik_engine_batch_size 3\n",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n---\n" << text;
  }
}

TEST_F(HttpServerTest, GracefulStopRefusesNewWorkAndDrainsTheOld) {
  Start();
  backend_.Hold();
  std::string streamed;
  std::thread first([&] {
    auto res =
        Client()->Post("/v1/completions", R"({"prompt":"x","stream":true})", "application/json");
    if (res) streamed = res->body;
  });
  ASSERT_TRUE(backend_.WaitSubmitted(1));
  std::thread stopper([&] { server_->Stop(std::chrono::seconds(20)); });
  auto health = client_->Get("/health");
  for (int i = 0; i < 1000 && health && health->status != 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    health = client_->Get("/health");
  }
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  ExpectError(Post("/v1/completions", R"({"prompt":"x"})"), 503, "shutting_down");
  backend_.Release();  // the request in progress finishes normally
  first.join();
  stopper.join();
  thread_.join();
  EXPECT_NE(streamed.find("\"finish_reason\":\"stop\""), std::string::npos) << streamed;
  EXPECT_NE(streamed.find("data: [DONE]\n\n"), std::string::npos);
  EXPECT_FALSE(backend_.cancelled(1));
}

TEST_F(HttpServerTest, StopWithoutDrainCancelsWhatIsLeft) {
  Start();
  backend_.Hold();
  std::string streamed;
  std::thread first([&] {
    auto res =
        Client()->Post("/v1/completions", R"({"prompt":"x","stream":true})", "application/json");
    if (res) streamed = res->body;
  });
  ASSERT_TRUE(backend_.WaitSubmitted(1));
  server_->Stop(std::chrono::milliseconds(0));
  thread_.join();
  first.join();
  EXPECT_TRUE(backend_.cancelled(1));
  EXPECT_NE(streamed.find("\"code\":\"shutting_down\""), std::string::npos) << streamed;
}

TEST(HttpServer, StopRightAfterRunStartsNeverHangs) {
  testing::FakeBackend backend;
  for (int i = 0; i < 20; ++i) {
    ServerOptions options;
    options.port = 0;
    HttpServer server(backend, options);
    ASSERT_TRUE(server.Bind().ok());
    std::thread run([&] { server.Run(); });
    server.Stop(std::chrono::milliseconds(0));
    run.join();
  }
}

TEST(HttpServer, BindFailsOnABadAddress) {
  testing::FakeBackend backend;
  ServerOptions options;
  options.host = "203.0.113.7";  // TEST-NET-3: not an address of this machine
  options.port = 0;
  HttpServer server(backend, options);
  EXPECT_EQ(server.Bind().status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace kvik::server
