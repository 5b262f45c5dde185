// `kvik serve`: an OpenAI-compatible HTTP server (cpp-httplib) in front of any CompletionBackend.
// The server owns HTTP, JSON, chat templates, stop strings, admission (--max-body, --max-queue),
// metrics and the KV-cache page; the backend (the engine) owns tokens, scheduling and the KV pool.
//
// Routes:
//   POST /v1/completions, POST /v1/chat/completions   OpenAI JSON, or SSE with "stream": true
//   GET  /v1/models      {"object":"list","data":[{"id":MODEL,"object":"model",…}]}
//   GET  /health         {"status":"ok"} (503 {"status":"shutting_down"} while stopping)
//   GET  /metrics        Prometheus text: the server's metrics, then backend.MetricsText()
//   GET  /kv             the KV block pool as JSON (format: KvSnapshotJson in server/kv_page.h)
//   GET  /               an HTML page drawing /kv as a grid, refreshed every 500 ms
// Errors are OpenAI error objects (kvik/server_api.h) with 400/404/413/429/500/503.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "kvik/server_api.h"
#include "kvik/server_metrics.h"
#include "kvik/status.h"

namespace kvik::server {

// What the server asks the backend to generate. Stop strings are not passed: the server matches
// them on the decoded text and calls Cancel() when one completes.
struct GenerationRequest {
  std::string prompt;       // the text to tokenize (chat template already applied); add BOS
  SamplingParams sampling;  // validated; sampling.max_tokens caps the generated tokens
};

// One report from the backend about one request.
struct GenerationEvent {
  enum class Kind {
    kToken,     // one generated token; `text` is its decoded bytes (may be part of a character)
    kFinished,  // generation ended by itself; `finish` says why. No event follows.
    kFailed,    // generation failed (engine error); `error` says why. No event follows.
  };
  Kind kind = Kind::kToken;
  std::string text;
  FinishReason finish = FinishReason::kStop;  // kStop: end-of-sequence token; kLength: max_tokens
                                              // reached or the context is full
  Status error;
  // Known once the prompt is scheduled: fill them on every event (the server keeps the last).
  int prompt_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose KV came from the prefix cache
};

// Called by the backend, from any one thread at a time per request, in generation order. It only
// queues the event and returns at once; it must not be called after kFinished/kFailed. It stays
// safe to call after Cancel() or after the HTTP request is gone (events are then dropped).
using EventSink = std::function<void(GenerationEvent)>;

// One block of the KV pool, for GET /kv and the page.
struct KvBlockInfo {
  enum class State : uint8_t {
    kFree,    // holds nothing
    kCached,  // holds a finished prefix, no sequence uses it (reusable, evictable: LRU)
    kUsed,    // referenced by ≥ 1 running sequence (ref_count > 1: a shared prefix)
  };
  State state = State::kFree;
  int64_t owner = -1;  // kUsed: the request id (from Submit) of one sequence using it
  int ref_count = 0;   // kUsed: how many sequences use it
};

struct KvSnapshot {
  int tokens_per_block = 0;
  std::vector<KvBlockInfo> blocks;  // indexed by physical block id
};

// The engine side. All methods may be called concurrently from the server's HTTP threads.
class CompletionBackend {
 public:
  virtual ~CompletionBackend() = default;

  // Queues a request and returns its id; events then arrive on `sink` (possibly before Submit
  // returns). Errors, answered before any event: kInvalidArgument / kOutOfRange → 400 (e.g. the
  // prompt plus max_tokens exceed the context), kResourceExhausted → 429, others → 500.
  virtual Result<uint64_t> Submit(GenerationRequest request, EventSink sink) = 0;

  // Stops the request (client gone, stop string matched, shutdown) and frees its KV blocks (or
  // keeps them as cached prefix). Idempotent; unknown or finished ids are ignored. Events already
  // in flight may still reach the sink; no kFinished is required afterwards.
  virtual void Cancel(uint64_t request_id) = 0;

  virtual std::string ModelName() const = 0;  // the id in /v1/models and responses
  // The GGUF `tokenizer.chat_template` (Jinja source), or "" if the model has none.
  virtual std::string ChatTemplate() const = 0;
  virtual KvSnapshot SnapshotKv() const = 0;
  // Engine metrics in Prometheus text format (queue depth, batch size, prefix hits, …), appended to
  // GET /metrics. Must not reuse the server's names: kvik_http_*, kvik_server_*, kvik_kv_blocks.
  virtual std::string MetricsText() const { return ""; }
};

// A cache of whole completions in front of the backend (kvik serve --semantic-cache): a request
// whose query is a near-duplicate of an answered one gets the stored answer, marked with the
// response header "X-Kvik-Cache: semantic-hit". Only greedy requests without stop strings use it,
// so a hit returns what the model itself would have said for the cluster's canonical query.
class PromptCache {
 public:
  struct Entry {
    std::string text;
    FinishReason finish = FinishReason::kStop;
    int completion_tokens = 0;
  };
  virtual ~PromptCache() = default;
  // `query` is the user's text: the prompt, or a chat's last user message.
  virtual std::optional<Entry> Lookup(std::string_view query, int max_tokens) = 0;
  virtual void Store(std::string_view query, int max_tokens, const Entry& entry) = 0;
  // Prometheus text for /metrics (kvik_semantic_cache_*).
  virtual std::string MetricsText() const { return ""; }
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0 = any free port (Bind() returns it)
  size_t max_body_bytes = 1 << 20;  // larger bodies → 413
  int max_queue = 64;               // completion requests in progress; one more → 429
  int http_threads = 0;             // 0 = max_queue + 8 (streams hold a thread each)
  int default_max_tokens = 256;     // when a request sends none
  int max_tokens_limit = 1 << 20;   // larger max_tokens → 400 (set it to the context length)
  // How often a waiting request checks whether its client is still connected.
  std::chrono::milliseconds disconnect_poll{50};
  PromptCache* prompt_cache = nullptr;  // not owned; null = no semantic cache
};

class HttpServer {
 public:
  // `backend` must outlive the server.
  HttpServer(CompletionBackend& backend, ServerOptions options);
  ~HttpServer();  // Stop(0) if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket; returns the port (useful with port 0). Then Run() serves until Stop().
  // Bind() ignores SIGPIPE process-wide, so a client hanging up fails a write instead of killing
  // the process.
  Result<int> Bind();
  void Run();

  // Graceful shutdown, callable from any thread (e.g. one that sigwait()s for SIGTERM): new
  // completion requests get 503, requests in progress get up to `drain` to finish, the rest are
  // cancelled, then Run() returns.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  // Completion requests admitted and not yet answered.
  int in_flight() const;
  MetricsRegistry& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvik::server
