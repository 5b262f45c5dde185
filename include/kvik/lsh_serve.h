// `kvik lsh serve`: the semantic cache as an HTTP service.
//   GET    /lookup?q=QUERY    → {"hit":…, "canonical":…, "cluster_id":…, "votes":…, "cached":…,
//   "result":…} PUT    /cache/KEY         body = result bytes (KEY = canonical query text,
//   URL-encoded) GET    /cache/KEY         → result bytes or 404 DELETE /cache/KEY         →
//   {"erased":0|1} DELETE /cache?prefix=P    → {"erased":N} POST   /reload            re-opens the
//   index file and swaps it in atomically (nightly rebuild) GET    /metrics           Prometheus
//   text;  GET /health → ok
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kvik/lsh.h"
#include "kvik/lsh_cache.h"

namespace kvik::lsh {

struct ServeOptions {
  std::string index_path;
  std::string host = "127.0.0.1";
  int port = 8090;  // 0 = any free port
  uint32_t min_votes = 0;
  std::string redis_address;  // empty = in-process store
  uint64_t cache_megabytes = 64;
  uint64_t ttl_seconds = 0;
};

class LshHttpServer {
 public:
  static Result<std::unique_ptr<LshHttpServer>> Create(const ServeOptions& options);
  ~LshHttpServer();
  // Binds; returns the bound port (useful with port 0). Then Run() blocks until Stop().
  Result<int> Bind();
  void Run();
  void Stop();
  IndexHolder& index() { return *holder_; }

 private:
  struct Impl;
  LshHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  IndexHolder* holder_ = nullptr;
};

// Create + Bind + Run, printing the address; returns on error or Stop.
Status Serve(const ServeOptions& options);

}  // namespace kvik::lsh
