#include "server/engine_backend.h"

#include <random>
#include <sstream>
#include <utility>

namespace kvik::server {

EngineBackend::EngineBackend(const Model& model, const Tokenizer& tokenizer, Engine& engine,
                             std::string model_name)
    : model_(model), tokenizer_(tokenizer), engine_(engine), model_name_(std::move(model_name)) {
  if (auto t = model.file().GetString("tokenizer.chat_template"); t.ok()) chat_template_ = *t;
}

Result<uint64_t> EngineBackend::Submit(GenerationRequest request, EventSink sink) {
  kvik::GenerationRequest r;
  // Chat templates write special tokens as text ("<|im_start|>"): parse them, as llama-server does.
  r.prompt = tokenizer_.Encode(request.prompt, tokenizer_.add_bos(), /*parse_special=*/true);
  r.max_new_tokens = request.sampling.max_tokens;
  r.sampling.temperature = request.sampling.temperature;
  r.sampling.top_k = request.sampling.top_k;
  r.sampling.top_p = request.sampling.top_p;
  r.sampling.min_p = request.sampling.min_p;
  // Without a seed, each request samples differently (the OpenAI default).
  r.sampling.seed = request.sampling.seed ? *request.sampling.seed : std::random_device{}();
  r.stop_at_eos = !request.sampling.ignore_eos;
  r.eos_id = tokenizer_.eos_id();
  const int64_t n_prompt = static_cast<int64_t>(r.prompt.size());
  if (n_prompt >= engine_.context_tokens()) {
    return InvalidArgument("the prompt has " + std::to_string(n_prompt) +
                           " tokens; this server's context is " +
                           std::to_string(engine_.context_tokens()) + " tokens");
  }
  const Tokenizer& tokenizer = tokenizer_;
  return engine_.Submit(std::move(r), [sink = std::move(sink), &tokenizer](const TokenEvent& e) {
    GenerationEvent event;
    event.prompt_tokens = static_cast<int>(e.prompt_tokens);
    event.cached_tokens = static_cast<int>(e.cached_prompt_tokens);
    if (!e.done) {
      event.kind = GenerationEvent::Kind::kToken;
      event.text = tokenizer.TokenToPiece(e.token);
    } else if (!e.error.ok()) {
      event.kind = GenerationEvent::Kind::kFailed;
      event.error = e.error;
    } else if (e.cancelled) {
      return;  // the server asked for it and expects nothing more
    } else {
      event.kind = GenerationEvent::Kind::kFinished;
      event.finish = e.finish_reason == kvik::FinishReason::kStop ? FinishReason::kStop
                                                                  : FinishReason::kLength;
    }
    sink(std::move(event));
  });
}

void EngineBackend::Cancel(uint64_t request_id) { engine_.Cancel(request_id); }

KvSnapshot EngineBackend::SnapshotKv() const {
  KvSnapshot snapshot;
  snapshot.tokens_per_block = static_cast<int>(engine_.options().block_size);
  for (const kvik::KvBlockInfo& b : engine_.DescribeBlocks()) {
    KvBlockInfo info;
    info.state = b.state == kvik::KvBlockInfo::State::kUsed     ? KvBlockInfo::State::kUsed
                 : b.state == kvik::KvBlockInfo::State::kCached ? KvBlockInfo::State::kCached
                                                                : KvBlockInfo::State::kFree;
    info.owner = b.first_owner;
    info.ref_count = b.owners;
    snapshot.blocks.push_back(info);
  }
  return snapshot;
}

std::string EngineBackend::MetricsText() const {
  const EngineStats s = engine_.stats();
  std::ostringstream out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
  };
  metric("kvik_engine_requests_submitted_total", "counter", "Requests accepted by the engine.",
         s.requests_submitted);
  metric("kvik_engine_requests_finished_total", "counter", "Requests that ended by themselves.",
         s.requests_finished);
  metric("kvik_engine_requests_cancelled_total", "counter", "Requests cancelled.",
         s.requests_cancelled);
  metric("kvik_engine_requests_failed_total", "counter", "Requests that failed.", s.requests_failed);
  metric("kvik_engine_preemptions_total", "counter",
         "Sequences preempted (blocks freed, recomputed later) when the KV pool ran out.",
         s.preemptions);
  metric("kvik_engine_steps_total", "counter", "Forward steps run.", s.steps);
  metric("kvik_engine_prompt_tokens_total", "counter", "Prompt tokens admitted.", s.prompt_tokens);
  metric("kvik_engine_prompt_tokens_cached_total", "counter",
         "Prompt tokens served from the prefix cache.", s.prompt_tokens_cached);
  metric("kvik_engine_generated_tokens_total", "counter", "Tokens generated.", s.generated_tokens);
  metric("kvik_engine_queue_depth", "gauge", "Requests waiting for admission.", s.waiting);
  metric("kvik_engine_running", "gauge", "Sequences running.", s.running);
  metric("kvik_engine_batch_rows", "gauge", "Token rows in the last forward step.",
         s.last_batch_rows);
  metric("kvik_engine_batch_sequences", "gauge", "Sequences in the last forward step.",
         s.last_batch_sequences);
  metric("kvik_engine_prefix_hit_ratio", "gauge", "Cached prompt tokens / prompt tokens.",
         s.prompt_tokens ? double(s.prompt_tokens_cached) / s.prompt_tokens : 0.0);
  metric("kvik_engine_kv_blocks_used", "gauge", "KV blocks owned by sequences.", s.kv.blocks_used);
  metric("kvik_engine_kv_blocks_cached", "gauge", "KV blocks holding reusable prefixes.",
         s.kv.blocks_cached);
  metric("kvik_engine_kv_blocks_free", "gauge", "KV blocks free.", s.kv.blocks_free);
  metric("kvik_engine_kv_bytes_allocated", "gauge", "KV pool bytes.", s.kv.bytes_allocated);
  metric("kvik_engine_kv_evictions_total", "counter", "Cached KV blocks evicted.", s.kv.evictions);
  return out.str();
}

}  // namespace kvik::server
