// kvik serve: the OpenAI-compatible HTTP server over the continuous-batching engine.
#include <pthread.h>

#include <csignal>
#include <thread>

#include "cli/command.h"
#include "cli/common.h"
#include "kvik/engine.h"
#include "kvik/model.h"
#include "kvik/server.h"
#include "kvik/tokenizer.h"
#include "kvik/lsh.h"
#include "kvik/lsh_cache.h"
#include "server/engine_backend.h"
#include "server/semantic_cache.h"
#include "util/thread_pool.h"

namespace kvik::cli {
namespace {

// "1073741824", "512M", "1.5G", "64KiB" → bytes (binary units).
Result<uint64_t> ParseBytes(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return InvalidArgument("'" + text + "' is not a byte count (e.g. 512M, 2G)");
  }
  std::string unit = text.substr(used);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  double scale = 1;
  if (unit == "K" || unit == "k") scale = 1024.0;
  else if (unit == "M" || unit == "m") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g") scale = 1024.0 * 1024 * 1024;
  else if (!unit.empty()) return InvalidArgument("unknown byte unit in '" + text + "'");
  if (!(value > 0) || value * scale > 1e15) return InvalidArgument("byte count out of range: " + text);
  return static_cast<uint64_t>(value * scale);
}

int RunServe(int argc, char** argv) {
  CLI::App app("OpenAI-compatible server (continuous batching over a paged KV cache)", "serve");
  std::string model_path, kv_budget, kv_dtype = "f32", kv_dtype_k, kv_dtype_v, max_body = "1M";
  server::ServerOptions server_options;
  EngineOptions engine_options;
  engine_options.context_tokens = 0;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("-m,--model", model_path, "model .gguf (default: models/stories15M.gguf)");
  app.add_option("--host", server_options.host, "address to listen on");
  app.add_option("--port", server_options.port, "port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--parallel,--np", engine_options.parallel, "sequences decoded together")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  app.add_option("-c,--ctx", engine_options.context_tokens,
                 "context per sequence (default: the model's)")
      ->check(AtLeast(0));
  app.add_option("--kv-budget", kv_budget, "KV pool bytes, e.g. 512M (default: ctx × parallel)");
  app.add_option("--block-size", engine_options.block_size, "tokens per KV block")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  const auto kv_types = DTypeValidator({"f32", "f16", "bf16", "q8_0", "q4_0"});
  app.add_option("--kv-dtype", kv_dtype, "KV-cache element type")->check(kv_types);
  app.add_option("--kv-dtype-k", kv_dtype_k, "type of keys (default: --kv-dtype)")->check(kv_types);
  app.add_option("--kv-dtype-v", kv_dtype_v, "type of values (default: --kv-dtype)")->check(kv_types);
  app.add_option("--max-batch-tokens", engine_options.max_batch_tokens,
                 "token rows per forward step (decodes + prompt chunks)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  app.add_option("--max-queue", server_options.max_queue,
                 "completion requests in progress before 429")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-body", max_body, "largest request body, e.g. 1M (larger: 413)");
  app.add_flag("!--no-prefix-cache", engine_options.prefix_sharing, "do not share prompt prefixes");
  std::string semantic_index, redis;
  uint32_t semantic_votes = 0;
  uint64_t semantic_mb = 64;
  app.add_option("--semantic-cache", semantic_index,
                 "answer near-duplicate greedy prompts from stored completions (a kvik lsh index)");
  app.add_option("--semantic-min-votes", semantic_votes, "votes a cluster needs (default: half)");
  app.add_option("--semantic-cache-mb", semantic_mb, "in-process completion store size")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  app.add_option("--redis", redis, "keep stored completions in Redis at HOST:PORT instead");
  app.add_option("-t,--threads", threads, "compute threads")->check(CLI::Range(1, 256));
  int exit_code = 0;
  if (!Parse(app, argc, argv, exit_code)) return exit_code;

  if (model_path.empty()) model_path = DefaultModelPath(argv[0]);
  if (model_path.empty()) {
    std::fprintf(stderr, "error: no model given and models/stories15M.gguf is absent (make demo)\n");
    return kExitFailure;
  }
  if (!kv_budget.empty()) {
    auto bytes = ParseBytes(kv_budget);
    if (!bytes.ok()) return Fail(bytes.status());
    engine_options.kv_budget_bytes = *bytes;
  }
  auto body_limit = ParseBytes(max_body);
  if (!body_limit.ok()) return Fail(body_limit.status());
  server_options.max_body_bytes = *body_limit;
  engine_options.kv_key_dtype = *ParseDType(kv_dtype_k.empty() ? kv_dtype : kv_dtype_k);
  engine_options.kv_value_dtype = *ParseDType(kv_dtype_v.empty() ? kv_dtype : kv_dtype_v);
  engine_options.max_queue = server_options.max_queue;

  auto model = Model::Load(model_path);
  if (!model.ok()) return Fail(model.status());
  auto tokenizer = Tokenizer::FromGguf((*model)->file());
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  // SIGTERM/SIGINT are taken by one thread with sigwait; block them before any thread starts so
  // none of the pool's or the server's threads receives them instead.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<server::SemanticPromptCache> prompt_cache;
  if (!semantic_index.empty()) {
    auto index = lsh::Index::Open(semantic_index);
    if (!index.ok()) return Fail(index.status());
    std::unique_ptr<lsh::ResultStore> store;
    if (!redis.empty()) {
      auto redis_store = lsh::MakeRedisStore({.address = redis, .key_namespace = "kvik:serve:"});
      if (!redis_store.ok()) return Fail(redis_store.status());
      store = std::move(*redis_store);
    } else {
      lsh::MemoryStoreOptions memory;
      memory.capacity_bytes = semantic_mb << 20;
      store = lsh::MakeMemoryStore(std::move(memory));
    }
    prompt_cache = std::make_unique<server::SemanticPromptCache>(*index, std::move(store),
                                                                 semantic_votes);
    server_options.prompt_cache = prompt_cache.get();
  }

  ThreadPool pool(threads);
  auto engine = Engine::Create(**model, engine_options, &pool);
  if (!engine.ok()) return Fail(engine.status());
  const ModelConfig& config = (*model)->config();
  const std::string name = config.name.empty() ? model_path : config.name;
  server::EngineBackend backend(**model, *tokenizer, **engine, name);
  server_options.max_tokens_limit = static_cast<int>((*engine)->context_tokens());
  server::HttpServer http(backend, server_options);
  auto port = http.Bind();
  if (!port.ok()) return Fail(port.status());
  (*engine)->Start();
  const EngineStats stats = (*engine)->stats();
  std::fprintf(stderr,
               "[kvik] serving %s on http://%s:%d | ctx %lld, parallel %lld | KV pool %lld blocks of "
               "%lld tokens (%s) | %d threads\n",
               name.c_str(), server_options.host.c_str(), *port,
               (long long)(*engine)->context_tokens(), (long long)engine_options.parallel,
               (long long)stats.kv.blocks_total, (long long)engine_options.block_size,
               FormatBytes(stats.kv.bytes_allocated).c_str(), threads);
  std::thread signal_waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::fprintf(stderr, "[kvik] %s: finishing requests in progress, then stopping\n",
                 signal == SIGTERM ? "SIGTERM" : "SIGINT");
    http.Stop();
  });
  http.Run();
  // Run() also returns when the server fails on its own; wake the signal thread either way.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  (*engine)->Stop();
  std::fprintf(stderr, "[kvik] stopped\n");
  return 0;
}

}  // namespace

KVIK_COMMAND("serve", "OpenAI-compatible HTTP server with continuous batching", RunServe);

}  // namespace kvik::cli
