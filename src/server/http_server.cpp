// The HTTP shell of `kvik serve` (routes in kvik/server.h). Each completion is answered through a
// chunked content provider, streaming or not: the provider waits for backend events, and while it
// waits it polls the socket, so a client that hangs up is noticed and its sequence cancelled.
#include <httplib.h>

#include <csignal>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_set>

#include "kvik/server.h"
#include "kvik/server_chat_template.h"
#include "server/completion_session.h"
#include "server/kv_page.h"

namespace kvik::server {
namespace {

void SendError(httplib::Response& res, const ApiError& error) {
  res.status = error.http_status;
  res.set_content(error.ToJson(), "application/json");
}

ApiError FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnimplemented:
      return ApiError{.http_status = 400,
                      .message = status.ToString(),
                      .type = "invalid_request_error",
                      .param = "",
                      .code = "invalid_value"};
    case StatusCode::kResourceExhausted:
      return ApiError{.http_status = 429,
                      .message = status.ToString(),
                      .type = "invalid_request_error",
                      .param = "",
                      .code = "queue_full"};
    default:
      return InternalError(status.ToString());
  }
}

// Route label for kvik_http_requests_total: known paths only, so the label set stays bounded.
std::string RouteLabel(const std::string& path) {
  for (const char* known : {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health",
                            "/metrics", "/kv", "/"}) {
    if (path == known) return path;
  }
  return "other";
}

}  // namespace

struct HttpServer::Impl {
  CompletionBackend& backend;
  ServerOptions options;
  httplib::Server http;
  MetricsRegistry registry;
  SessionMetrics session_metrics;
  Gauge* in_flight_gauge = nullptr;
  Counter* disconnects = nullptr;
  ChatTemplateFamily chat_family;
  std::string model;

  std::atomic<bool> stopping{false}, cancel_all{false};
  std::atomic<bool> run_entered{false}, run_returned{false};
  mutable std::mutex mutex;  // guards `active` and `in_flight`
  std::condition_variable drained;
  std::unordered_set<uint64_t> active;  // backend ids of admitted requests
  int in_flight = 0;
  std::mt19937_64 id_random{std::random_device{}()};

  Impl(CompletionBackend& b, ServerOptions o)
      : backend(b),
        options(std::move(o)),
        chat_family(DetectChatTemplate(b.ChatTemplate())),
        model(b.ModelName()) {
    session_metrics = SessionMetrics{
        .prompt_tokens = &registry.GetCounter("kvik_server_prompt_tokens_total",
                                              "Prompt tokens of answered requests."),
        .cached_prompt_tokens = &registry.GetCounter(
            "kvik_server_cached_prompt_tokens_total",
            "Prompt tokens whose KV came from the prefix cache (hit rate = this / prompt)."),
        .completion_tokens = &registry.GetCounter("kvik_server_completion_tokens_total",
                                                  "Generated tokens of answered requests."),
        .time_to_first_token = &registry.GetHistogram(
            "kvik_server_time_to_first_token_seconds",
            "From admission to the first generated token.", LatencyBucketsSeconds()),
        .inter_token = &registry.GetHistogram("kvik_server_inter_token_seconds",
                                              "Between consecutive generated tokens.",
                                              LatencyBucketsSeconds()),
        .request_duration = &registry.GetHistogram("kvik_server_request_duration_seconds",
                                                   "From admission to the last byte queued.",
                                                   LatencyBucketsSeconds()),
    };
    in_flight_gauge = &registry.GetGauge("kvik_server_requests_in_flight",
                                         "Completion requests admitted and not yet answered.");
    disconnects = &registry.GetCounter("kvik_server_client_disconnects_total",
                                       "Requests cancelled because the client went away.");
  }

  std::string NewId(Endpoint endpoint) {
    std::lock_guard lock(mutex);
    char hex[25];
    std::snprintf(hex, sizeof hex, "%016llx%08llx", static_cast<unsigned long long>(id_random()),
                  static_cast<unsigned long long>(id_random() & 0xffffffffu));
    return (endpoint == Endpoint::kChatCompletions ? "chatcmpl-" : "cmpl-") + std::string(hex);
  }

  // Admission: one slot per completion in progress, released by Release().
  bool Admit() {
    std::lock_guard lock(mutex);
    if (in_flight >= options.max_queue) return false;
    ++in_flight;
    in_flight_gauge->Set(in_flight);
    return true;
  }

  void Release(std::optional<uint64_t> id) {
    std::lock_guard lock(mutex);
    if (id) active.erase(*id);
    --in_flight;
    in_flight_gauge->Set(in_flight);
    drained.notify_all();
  }

  void HandleCompletion(const httplib::Request& req, httplib::Response& res, Endpoint endpoint) {
    if (stopping) return SendError(res, ShuttingDown());
    // Content-Length over the limit is refused by httplib before we get here; this catches
    // chunked uploads, whose size is only known once read.
    if (req.body.size() > options.max_body_bytes)
      return SendError(res, BodyTooLarge(options.max_body_bytes));
    CompletionRequest request;
    ParseOptions parse{.served_model = model,
                       .default_max_tokens = options.default_max_tokens,
                       .max_tokens_limit = options.max_tokens_limit};
    if (auto error = ParseCompletionRequest(req.body, endpoint, parse, &request))
      return SendError(res, *error);
    if (!Admit()) return SendError(res, QueueFull(options.max_queue));
    const std::optional<std::string> cache_query = PromptCacheQuery(request);
    if (cache_query) {
      if (auto hit = options.prompt_cache->Lookup(*cache_query, request.sampling.max_tokens)) {
        ResponseMeta meta{.endpoint = endpoint, .id = NewId(endpoint),
                          .created = static_cast<int64_t>(std::time(nullptr)), .model = model};
        res.set_header("X-Kvik-Cache", "semantic-hit");
        SendCached(res, request, meta, *hit);
        return Release(std::nullopt);
      }
      res.set_header("X-Kvik-Cache", "miss");
    }

    GenerationRequest generation{.prompt = endpoint == Endpoint::kChatCompletions
                                               ? RenderChat(chat_family, request.messages)
                                               : request.prompt,
                                 .sampling = request.sampling};
    ResponseMeta meta{.endpoint = endpoint,
                      .id = NewId(endpoint),
                      .created = static_cast<int64_t>(std::time(nullptr)),
                      .model = model};
    // Made before Submit: its clock starts the time-to-first-token measurement.
    auto session = std::make_shared<CompletionSession>(request, meta, session_metrics);
    auto queue = std::make_shared<EventQueue>();
    // The sink owns the queue, so a backend that reports after the request is gone is harmless.
    auto submitted = backend.Submit(std::move(generation),
                                    [queue](GenerationEvent e) { queue->Push(std::move(e)); });
    if (!submitted.ok()) {
      Release(std::nullopt);
      return SendError(res, FromStatus(submitted.status()));
    }
    const uint64_t id = *submitted;
    {
      std::lock_guard lock(mutex);
      active.insert(id);
    }
    auto begun = std::make_shared<bool>(false);
    const char* content_type = request.stream ? "text/event-stream" : "application/json";
    if (request.stream) res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        content_type,
        [this, id, session, queue, begun, cache_query,
         max_tokens = request.sampling.max_tokens](size_t, httplib::DataSink& sink) {
          return Provide(id, *session, *queue, *begun, cache_query, max_tokens, sink);
        },
        [this, id, session](bool /*success*/) {
          // Always runs (httplib calls it when the response dies). Unfinished = client gone or
          // server stopping: stop the sequence so its KV blocks are freed.
          if (!session->done()) backend.Cancel(id);
          if (!session->done() && !cancel_all) disconnects->Increment();
          Release(id);
        });
  }

  // The text a semantic cache keys on, when this request may use the cache at all.
  std::optional<std::string> PromptCacheQuery(const CompletionRequest& request) const {
    if (!options.prompt_cache || request.sampling.temperature != 0 || !request.stop.empty()) {
      return std::nullopt;
    }
    if (request.endpoint == Endpoint::kCompletions) return request.prompt;
    for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it) {
      if (it->role == "user") return it->content;
    }
    return std::nullopt;
  }

  void SendCached(httplib::Response& res, const CompletionRequest& request,
                  const ResponseMeta& meta, const PromptCache::Entry& hit) {
    // Nothing was computed: no prompt tokens were processed, the completion is the stored one.
    const Usage usage{.prompt_tokens = 0, .completion_tokens = hit.completion_tokens};
    if (!request.stream) {
      return res.set_content(CompletionResponseJson(meta, hit.text, hit.finish, usage),
                             "application/json");
    }
    std::string body = meta.endpoint == Endpoint::kChatCompletions ? StreamRoleChunk(meta) : "";
    body += StreamTextChunk(meta, hit.text) + StreamFinishChunk(meta, hit.finish);
    if (request.include_usage) body += StreamUsageChunk(meta, usage);
    body += kStreamDone;
    res.set_header("Cache-Control", "no-cache");
    res.set_content(body, "text/event-stream");
  }

  bool Provide(uint64_t id, CompletionSession& session, EventQueue& queue, bool& begun,
               const std::optional<std::string>& cache_query, int max_tokens,
               httplib::DataSink& sink) {
    std::string out;
    if (!begun) {
      begun = true;
      out = session.Begin();
    }
    std::vector<TimedEvent> events = queue.Take(options.disconnect_poll);
    if (events.empty() && out.empty()) {
      if (!sink.is_writable()) return false;  // the client hung up: the releaser cancels
      if (cancel_all) {
        session.Fail(ShuttingDown());
        backend.Cancel(id);  // Stop() may not have seen this id yet
      }
      if (!session.done()) return true;  // httplib calls again: wait more
    }
    for (const TimedEvent& event : events) out += session.Apply(event);
    if (session.done()) {
      // A stop string or max_tokens ended it here: free the sequence now, not after the write.
      if (session.ended_early()) backend.Cancel(id);
      out += session.End();
      // Stored before the last bytes go out, so a client that asks again as soon as it has the
      // answer finds it (storing when httplib tears the response down raced with that request).
      if (cache_query && !session.error()) {
        options.prompt_cache->Store(*cache_query, max_tokens,
                                    {session.text(), session.finish_reason(),
                                     session.usage().completion_tokens});
      }
    }
    if (!out.empty() && !sink.write(out.data(), out.size())) return false;
    if (session.done()) sink.done();
    return true;
  }

  void Routes() {
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      HandleCompletion(req, res, Endpoint::kCompletions);
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      HandleCompletion(req, res, Endpoint::kChatCompletions);
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      nlohmann::json body = {
          {"object", "list"},
          {"data", {{{"id", model}, {"object", "model"}, {"created", 0}, {"owned_by", "kvik"}}}}};
      res.set_content(body.dump() + "\n", "application/json");
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (stopping) {
        res.status = 503;
        return res.set_content("{\"status\":\"shutting_down\"}\n", "application/json");
      }
      res.set_content("{\"status\":\"ok\"}\n", "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(RenderMetrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Get("/kv", [this](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(KvSnapshotJson(backend.SnapshotKv()), "application/json");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kKvPageHtml, "text/html; charset=utf-8");
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      registry
          .GetCounter("kvik_http_requests_total", "HTTP requests answered, by route and status.",
                      {{"route", RouteLabel(req.path)}, {"code", std::to_string(res.status)}})
          .Increment();
    });
    // Turns httplib's own refusals (413 from payload_max_length, 404 unknown route, 400 bad
    // request line) into OpenAI error objects; handlers' responses already have bodies.
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          SendError(res, HttplibError(req, res.status));
          return httplib::Server::HandlerResponse::Handled;
        }));
  }

  ApiError HttplibError(const httplib::Request& req, int status) {
    if (status == 413) return BodyTooLarge(options.max_body_bytes);
    ApiError error{.http_status = status,
                   .message = "bad request",
                   .type = status >= 500 ? "server_error" : "invalid_request_error",
                   .param = "",
                   .code = ""};
    if (status == 404) {
      error.message = "no route " + req.method + " " + req.path;
      error.code = "not_found";
    }
    return error;
  }

  std::string RenderMetrics() {
    // KV block gauges come from the backend's snapshot at scrape time.
    KvSnapshot kv = backend.SnapshotKv();
    double counts[4] = {0, 0, 0, 0};  // free, cached, used, shared
    for (const KvBlockInfo& block : kv.blocks) {
      counts[static_cast<int>(block.state)] += 1;
      if (block.state == KvBlockInfo::State::kUsed && block.ref_count > 1) counts[3] += 1;
    }
    const char* names[4] = {"free", "cached", "used", "shared"};
    for (int i = 0; i < 4; ++i) {
      registry
          .GetGauge("kvik_kv_blocks", "KV pool blocks by state (used includes shared).",
                    {{"state", names[i]}})
          .Set(counts[i]);
    }
    return registry.Render() + backend.MetricsText() +
           (options.prompt_cache ? options.prompt_cache->MetricsText() : "");
  }
};

HttpServer::HttpServer(CompletionBackend& backend, ServerOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {
  Impl& impl = *impl_;
  impl.http.set_payload_max_length(impl.options.max_body_bytes);
  const int threads =
      impl.options.http_threads > 0 ? impl.options.http_threads : impl.options.max_queue + 8;
  impl.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl.Routes();
}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Result<int> HttpServer::Bind() {
  // A client that hangs up mid-stream must fail our write(), not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  const ServerOptions& o = impl_->options;
  int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host.c_str())
                         : (impl_->http.bind_to_port(o.host.c_str(), o.port) ? o.port : -1);
  if (port <= 0) return IoError("cannot listen on " + o.host + ":" + std::to_string(o.port));
  return port;
}

void HttpServer::Run() {
  impl_->run_entered = true;
  if (!impl_->stopping) impl_->http.listen_after_bind();
  impl_->run_returned = true;
}

void HttpServer::Stop(std::chrono::milliseconds drain) {
  Impl& impl = *impl_;
  impl.stopping = true;
  std::vector<uint64_t> remaining;
  {
    std::unique_lock lock(impl.mutex);
    impl.drained.wait_for(lock, drain, [&] { return impl.in_flight == 0; });
    remaining.assign(impl.active.begin(), impl.active.end());
  }
  // Providers still waiting see cancel_all within one poll and answer 503 in their stream.
  impl.cancel_all = true;
  for (uint64_t id : remaining) impl.backend.Cancel(id);
  {
    // Give those providers time to write their last event: once http.stop() runs, httplib ends
    // every response at its next chunk.
    std::unique_lock lock(impl.mutex);
    impl.drained.wait_for(lock, 4 * impl.options.disconnect_poll + std::chrono::seconds(1),
                          [&] { return impl.in_flight == 0; });
  }
  // httplib's stop() does nothing before its listen loop has started: if Run() is on its way
  // there, wait for it (if Run() comes later, it sees `stopping` and returns at once).
  while (impl.run_entered && !impl.run_returned && !impl.http.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl.http.stop();
}

int HttpServer::in_flight() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->in_flight;
}

MetricsRegistry& HttpServer::metrics() { return impl_->registry; }

}  // namespace kvik::server
