// HTTP front of the semantic cache (cpp-httplib). Lookups read the index through IndexHolder, so
// POST /reload swaps in a rebuilt index without pausing requests.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "kvik/lsh_serve.h"

namespace kvik::lsh {
namespace {

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

void Error(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content("{\"error\":" + JsonString(message) + "}\n", "application/json");
}

}  // namespace

struct LshHttpServer::Impl {
  ServeOptions options;
  IndexHolder holder;
  std::unique_ptr<ResultStore> store;
  httplib::Server http;
  std::atomic<uint64_t> lookups{0}, lookup_hits{0}, cached_hits{0}, lookup_ns{0}, reloads{0},
      reload_failures{0};

  void Lookup(const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("q")) return Error(res, 400, "missing query parameter q");
    const std::string query = req.get_param_value("q");
    std::shared_ptr<const Index> index = holder.Get();  // keeps this index alive for the request
    auto start = std::chrono::steady_clock::now();
    auto hit = index->Lookup(query, options.min_votes);
    lookup_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    ++lookups;
    std::string body = "{\"query\":" + JsonString(query) + ",\"hit\":" + (hit ? "true" : "false");
    if (hit) {
      ++lookup_hits;
      body += ",\"canonical\":" + JsonString(hit->canonical) +
              ",\"cluster_id\":" + std::to_string(hit->cluster_id) +
              ",\"votes\":" + std::to_string(hit->votes);
      auto cached = store->Get(hit->canonical);
      if (!cached.ok()) return Error(res, 502, cached.status().ToString());
      body += std::string(",\"cached\":") + (cached->has_value() ? "true" : "false");
      if (cached->has_value()) {
        ++cached_hits;
        body += ",\"result\":" + JsonString(**cached);
      }
      res.set_header("X-Kvik-Semantic-Hit", "1");
    }
    res.set_content(body + "}\n", "application/json");
  }

  void Metrics(httplib::Response& res) {
    auto stats = store->Stats();
    auto info = holder.Get()->info();
    std::string text;
    auto metric = [&](const char* name, const char* type, double value) {
      text += std::string("# TYPE ") + name + " " + type + "\n" + name + " " +
              std::to_string(value) + "\n";
    };
    metric("kvik_lsh_lookups_total", "counter", lookups.load());
    metric("kvik_lsh_lookup_hits_total", "counter", lookup_hits.load());
    metric("kvik_lsh_cached_results_served_total", "counter", cached_hits.load());
    metric("kvik_lsh_lookup_seconds_total", "counter", lookup_ns.load() * 1e-9);
    metric("kvik_lsh_index_reloads_total", "counter", reloads.load());
    metric("kvik_lsh_index_reload_failures_total", "counter", reload_failures.load());
    metric("kvik_lsh_index_clusters", "gauge", static_cast<double>(info.clusters));
    metric("kvik_lsh_index_buckets", "gauge", static_cast<double>(info.buckets));
    metric("kvik_lsh_cache_entries", "gauge", static_cast<double>(stats.entries));
    metric("kvik_lsh_cache_bytes", "gauge", static_cast<double>(stats.bytes));
    metric("kvik_lsh_cache_gets_total", "counter", static_cast<double>(stats.gets));
    metric("kvik_lsh_cache_hits_total", "counter", static_cast<double>(stats.hits));
    metric("kvik_lsh_cache_evictions_total", "counter", static_cast<double>(stats.evictions));
    metric("kvik_lsh_cache_invalidations_total", "counter",
           static_cast<double>(stats.invalidations));
    res.set_content(text, "text/plain; version=0.0.4");
  }

  void Routes() {
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    http.Get("/lookup",
             [this](const httplib::Request& req, httplib::Response& res) { Lookup(req, res); });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { Metrics(res); });
    http.Put(R"(/cache/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto status = store->Put(req.matches[1].str(), req.body,
                               std::chrono::milliseconds(options.ttl_seconds * 1000));
      if (!status.ok())
        return Error(res, status.code() == StatusCode::kResourceExhausted ? 413 : 502,
                     status.ToString());
      res.set_content("{\"stored\":true}\n", "application/json");
    });
    http.Get(R"(/cache/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto value = store->Get(req.matches[1].str());
      if (!value.ok()) return Error(res, 502, value.status().ToString());
      if (!value->has_value())
        return Error(res, 404, "no cached result for '" + req.matches[1].str() + "'");
      res.set_content(**value, "application/octet-stream");
    });
    http.Delete(R"(/cache/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto erased = store->Erase(req.matches[1].str());
      if (!erased.ok()) return Error(res, 502, erased.status().ToString());
      res.set_content(std::string("{\"erased\":") + (*erased ? "1" : "0") + "}\n",
                      "application/json");
    });
    http.Delete("/cache", [this](const httplib::Request& req, httplib::Response& res) {
      if (!req.has_param("prefix"))
        return Error(res, 400,
                     "DELETE /cache needs ?prefix= (use prefix= with an empty value to clear all)");
      auto erased = store->EraseByPrefix(req.get_param_value("prefix"));
      if (!erased.ok()) return Error(res, 502, erased.status().ToString());
      res.set_content("{\"erased\":" + std::to_string(*erased) + "}\n", "application/json");
    });
    http.Post("/reload", [this](const httplib::Request&, httplib::Response& res) {
      auto index = Index::Open(options.index_path);
      if (!index.ok()) {
        ++reload_failures;
        return Error(res, 500, "kept the previous index: " + index.status().ToString());
      }
      holder.Swap(*index);
      ++reloads;
      res.set_content(
          "{\"reloaded\":true,\"clusters\":" + std::to_string((*index)->info().clusters) + "}\n",
          "application/json");
    });
  }
};

Result<std::unique_ptr<LshHttpServer>> LshHttpServer::Create(const ServeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  KVIK_ASSIGN_OR_RETURN(auto index, Index::Open(options.index_path));
  impl->holder.Swap(std::move(index));
  if (options.redis_address.empty()) {
    impl->store =
        MakeMemoryStore({.capacity_bytes = options.cache_megabytes << 20,
                         .default_ttl = std::chrono::milliseconds(options.ttl_seconds * 1000),
                         .now = {}});
  } else {
    KVIK_ASSIGN_OR_RETURN(
        impl->store,
        MakeRedisStore({.address = options.redis_address,
                        .default_ttl = std::chrono::milliseconds(options.ttl_seconds * 1000)}));
  }
  impl->Routes();
  std::unique_ptr<LshHttpServer> server(new LshHttpServer());
  server->holder_ = &impl->holder;
  server->impl_ = std::move(impl);
  return server;
}

LshHttpServer::~LshHttpServer() { Stop(); }

Result<int> LshHttpServer::Bind() {
  auto& o = impl_->options;
  int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host.c_str())
                         : (impl_->http.bind_to_port(o.host.c_str(), o.port) ? o.port : -1);
  if (port <= 0) return IoError("cannot listen on " + o.host + ":" + std::to_string(o.port));
  return port;
}

void LshHttpServer::Run() { impl_->http.listen_after_bind(); }

void LshHttpServer::Stop() {
  if (impl_) impl_->http.stop();
}

Status Serve(const ServeOptions& options) {
  KVIK_ASSIGN_OR_RETURN(auto server, LshHttpServer::Create(options));
  KVIK_ASSIGN_OR_RETURN(int port, server->Bind());
  auto info = server->index().Get()->info();
  std::printf(
      "kvik lsh serve: http://%s:%d (index %s: %llu clusters; store: %s)\n", options.host.c_str(),
      port, options.index_path.c_str(), static_cast<unsigned long long>(info.clusters),
      options.redis_address.empty() ? "in-process" : ("redis " + options.redis_address).c_str());
  std::fflush(stdout);
  server->Run();
  return Status::Ok();
}

}  // namespace kvik::lsh
