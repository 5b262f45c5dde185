#include "kvik/engine.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>
#include <utility>

namespace kvik {

struct Engine::Sequence {
  RequestId id = 0;
  GenerationRequest request;
  EventCallback on_event;
  Sampler sampler;
  std::vector<int32_t> tokens;       // prompt + generated: what the cache must end up holding
  int64_t n_generated = 0;
  SequenceId seq = -1;               // its cache sequence while admitted
  int64_t cached_prompt_tokens = 0;  // prefix hits at first admission
  bool admitted_before = false;

  Sequence(RequestId request_id, GenerationRequest r, EventCallback callback)
      : id(request_id), request(std::move(r)), on_event(std::move(callback)),
        sampler(request.sampling), tokens(request.prompt) {}
};

Engine::Engine(const Model& model, const EngineOptions& options, ThreadPool* pool)
    : model_(model), options_(options), pool_(pool) {}

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Create(const Model& model, const EngineOptions& options,
                                               ThreadPool* pool) {
  const ModelConfig& config = model.config();
  if (options.parallel <= 0 || options.block_size <= 0 || options.max_batch_tokens <= 0 ||
      options.max_queue < 0) {
    return InvalidArgument("engine: parallel, block size and max batch tokens must be positive");
  }
  std::unique_ptr<Engine> engine(new Engine(model, options, pool));
  engine->context_tokens_ = options.context_tokens > 0
                                ? std::min(options.context_tokens, config.context_length)
                                : config.context_length;
  KvCacheOptions kv;
  kv.shape = config.kv_shape(options.kv_key_dtype, options.kv_value_dtype);
  kv.block_size = options.block_size;
  kv.n_blocks = options.kv_budget_bytes > 0
                    ? KvCacheOptions::BlocksInBudget(kv.shape, kv.block_size, options.kv_budget_bytes)
                    : KvCacheOptions::BlocksFor(engine->context_tokens_, options.parallel,
                                                kv.block_size);
  kv.sliding_window = config.sliding_window;
  kv.prefix_sharing = options.prefix_sharing;
  KVIK_ASSIGN_OR_RETURN(engine->cache_, KvCache::Create(kv));
  engine->total_blocks_ = kv.n_blocks;
  engine->state_ = std::make_unique<ForwardState>(config, options.max_batch_tokens);
  engine->logits_.resize(options.max_batch_tokens * config.vocab_size);
  engine->PublishSnapshot();
  return engine;
}

Result<RequestId> Engine::Submit(GenerationRequest request, EventCallback on_event) {
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) return InvalidArgument("the prompt is empty");
  if (n_prompt > context_tokens_) {
    return InvalidArgument("the prompt has " + std::to_string(n_prompt) +
                           " tokens, more than the context of " + std::to_string(context_tokens_));
  }
  if (request.max_new_tokens < 0) return InvalidArgument("max_tokens must be >= 0");
  const int64_t blocks_for_prompt = (n_prompt + options_.block_size - 1) / options_.block_size;
  // (Not cache_->stats(): the cache belongs to the stepping thread; its size never changes.)
  if (blocks_for_prompt > total_blocks_) {
    return InvalidArgument("the prompt needs " + std::to_string(blocks_for_prompt) +
                           " KV blocks; the whole KV budget holds " + std::to_string(total_blocks_));
  }
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= model_.config().vocab_size) {
      return InvalidArgument("token id " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return ResourceExhausted("the engine is shutting down");
  if (queued_ >= options_.max_queue) {
    return ResourceExhausted("too many waiting requests (" + std::to_string(queued_) + ")");
  }
  const RequestId id = next_id_++;
  inbox_.push_back(std::make_unique<Sequence>(id, std::move(request), std::move(on_event)));
  ++queued_;
  ++snapshot_.requests_submitted;
  wake_.notify_one();
  return id;
}

void Engine::Cancel(RequestId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelled_.push_back(id);
  wake_.notify_one();
}

void Engine::TakeInbox() {
  std::vector<RequestId> cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& s : inbox_) waiting_.push_back(std::move(s));
    inbox_.clear();
    cancelled.swap(cancelled_);
  }
  for (RequestId id : cancelled) {
    for (auto& s : running_) {
      if (s && s->id == id) Finish(*s, FinishReason::kStop, true, Status::Ok());
    }
    for (auto& s : waiting_) {
      if (s && s->id == id) Finish(*s, FinishReason::kStop, true, Status::Ok());
    }
  }
  std::erase(running_, nullptr);
  std::erase(waiting_, nullptr);
}

// Releases the sequence's blocks, tells its caller, and leaves a null in its slot (the caller
// erases it), so running_ and waiting_ can be walked while finishing.
void Engine::Finish(Sequence& s, FinishReason reason, bool cancelled, Status error) {
  if (s.seq >= 0) cache_->RemoveSequence(s.seq);
  TokenEvent event;
  event.id = s.id;
  event.done = true;
  event.finish_reason = reason;
  event.cancelled = cancelled;
  event.error = std::move(error);
  event.prompt_tokens = static_cast<int64_t>(s.request.prompt.size());
  event.cached_prompt_tokens = s.cached_prompt_tokens;
  event.completion_tokens = s.n_generated;
  if (!event.error.ok()) ++counters_.requests_failed;
  else if (cancelled) ++counters_.requests_cancelled;
  else ++counters_.requests_finished;
  if (s.on_event) s.on_event(event);
  for (auto& p : running_) {
    if (p.get() == &s) return p.reset();
  }
  for (auto& p : waiting_) {
    if (p.get() == &s) return p.reset();
  }
}

// FCFS admission: the oldest waiting request goes first and nothing overtakes it. A request is
// admitted when a sequence slot is free and the pool can hold its first prompt chunk on top of one
// block per running sequence (so admitting never forces an immediate preemption).
void Engine::Admit() {
  while (!waiting_.empty() && static_cast<int64_t>(running_.size()) < options_.parallel) {
    Sequence& s = *waiting_.front();
    if (WaitsForSharedPrefix(s)) break;
    const SequenceId seq = cache_->AddSequence();
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    const int64_t reused = cache_->MatchPrefix(seq, s.tokens, n - 1).value();
    const int64_t first_chunk = std::min(n - reused, options_.max_batch_tokens);
    const int64_t reserve = static_cast<int64_t>(running_.size());
    if (cache_->blocks_needed(seq, first_chunk) + reserve > cache_->blocks_available()) {
      cache_->RemoveSequence(seq);
      break;
    }
    s.seq = seq;
    if (!s.admitted_before) {
      s.admitted_before = true;
      s.cached_prompt_tokens = std::min<int64_t>(reused, s.request.prompt.size());
      counters_.prompt_tokens += s.request.prompt.size();
      counters_.prompt_tokens_cached += s.cached_prompt_tokens;
    }
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

// True when a running sequence is still computing a prompt prefix `s` shares (at least one block of
// it): admitting `s` now would compute the same K/V twice, while a few steps later those blocks are
// in the prefix index. (Requests that arrive together with one system prompt hit exactly this.)
bool Engine::WaitsForSharedPrefix(const Sequence& s) const {
  if (!options_.prefix_sharing) return false;
  for (const auto& r : running_) {
    const int64_t computed = cache_->n_tokens(r->seq);
    const int64_t prompt = static_cast<int64_t>(r->request.prompt.size());
    if (computed >= prompt) continue;  // decoding: whatever it shares is indexed already
    const size_t limit = std::min<size_t>(s.tokens.size(), prompt);
    size_t common = 0;
    while (common < limit && s.tokens[common] == r->tokens[common]) ++common;
    if (static_cast<int64_t>(common) >= computed + options_.block_size) return true;
  }
  return false;
}

// Frees the newest running sequence's blocks and puts it back at the head of the queue; it will
// recompute prompt + output so far (mostly from its own cached blocks). False when nothing runs.
bool Engine::Preempt() {
  if (running_.empty()) return false;
  std::unique_ptr<Sequence> victim = std::move(running_.back());
  running_.pop_back();
  cache_->RemoveSequence(victim->seq);
  victim->seq = -1;
  waiting_.push_front(std::move(victim));
  ++counters_.preemptions;
  return true;
}

bool Engine::Step() {
  TakeInbox();
  Admit();
  if (running_.empty()) {
    PublishSnapshot();
    return false;
  }
  // Decodes first (one row each, so no running sequence stalls behind a long prompt), then prompt
  // chunks in admission order until max_batch_tokens rows.
  std::vector<ForwardItem> items;
  std::vector<Sequence*> owners;
  for (;;) {
    items.clear();
    owners.clear();
    int64_t rows = 0, blocks = 0;
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& s : running_) {
        const int64_t done = cache_->n_tokens(s->seq);
        const int64_t remaining = static_cast<int64_t>(s->tokens.size()) - done;
        if ((pass == 0) != (remaining == 1) || rows == options_.max_batch_tokens) continue;
        const int64_t take = std::min(remaining, options_.max_batch_tokens - rows);
        items.push_back({s->seq, std::span<const int32_t>(s->tokens).subspan(done, take),
                         take == remaining ? LogitRows::kLast : LogitRows::kNone});
        owners.push_back(s.get());
        rows += take;
        blocks += cache_->blocks_needed(s->seq, take);
      }
    }
    if (blocks <= cache_->blocks_available()) break;
    if (running_.size() == 1) {
      // Even alone it does not fit: the budget is smaller than this request's context.
      Finish(*running_.front(), FinishReason::kLength, false,
             ResourceExhausted("the KV budget cannot hold this request"));
      std::erase(running_, nullptr);
      PublishSnapshot();
      return true;
    }
    Preempt();
  }
  if (Status s = model_.Forward(items, *cache_, *state_, logits_.data(), pool_); !s.ok()) {
    for (auto& seq : running_) Finish(*seq, FinishReason::kStop, false, s);
    std::erase(running_, nullptr);
    PublishSnapshot();
    return true;
  }
  ++counters_.steps;
  counters_.last_batch_rows = 0;
  for (const auto& item : items) counters_.last_batch_rows += item.tokens.size();
  counters_.last_batch_sequences = static_cast<int64_t>(items.size());

  const int64_t vocab = model_.config().vocab_size;
  int64_t row = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].logits != LogitRows::kLast) continue;
    Sequence& s = *owners[i];
    const float* logits = logits_.data() + (row++) * vocab;
    if (s.n_generated >= s.request.max_new_tokens) {  // max_tokens = 0: the prompt only
      Finish(s, FinishReason::kLength, false, Status::Ok());
      continue;
    }
    const int32_t token = s.sampler.Sample(logits, vocab);
    s.tokens.push_back(token);
    ++s.n_generated;
    ++counters_.generated_tokens;
    TokenEvent event;
    event.id = s.id;
    event.token = token;
    event.prompt_tokens = static_cast<int64_t>(s.request.prompt.size());
    event.cached_prompt_tokens = s.cached_prompt_tokens;
    event.completion_tokens = s.n_generated;
    if (s.on_event) s.on_event(event);
    if (s.request.stop_at_eos && token == s.request.eos_id) {
      Finish(s, FinishReason::kStop, false, Status::Ok());
    } else if (s.n_generated >= s.request.max_new_tokens ||
               static_cast<int64_t>(s.tokens.size()) > context_tokens_) {
      Finish(s, FinishReason::kLength, false, Status::Ok());
    }
  }
  std::erase(running_, nullptr);
  PublishSnapshot();
  return true;
}

void Engine::PublishSnapshot() {
  EngineStats stats = counters_;
  stats.running = static_cast<int64_t>(running_.size());
  stats.waiting = static_cast<int64_t>(waiting_.size());
  stats.kv = cache_->stats();
  std::vector<KvBlockInfo> blocks = cache_->DescribeBlocks();
  // Callers know requests, not cache sequences: report owners as request ids.
  std::unordered_map<SequenceId, RequestId> request_of;
  for (const auto& r : running_) request_of[r->seq] = r->id;
  for (KvBlockInfo& b : blocks) {
    if (b.first_owner >= 0) b.first_owner = static_cast<SequenceId>(request_of[b.first_owner]);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  stats.requests_submitted = snapshot_.requests_submitted;
  stats.waiting += static_cast<int64_t>(inbox_.size());
  queued_ = stats.waiting;
  snapshot_ = stats;
  blocks_snapshot_ = std::move(blocks);
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

std::vector<KvBlockInfo> Engine::DescribeBlocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return blocks_snapshot_;
}

void Engine::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) break;
      }
      if (!Step()) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(100),
                       [this] { return stopping_ || !inbox_.empty() || !cancelled_.empty(); });
      }
    }
  });
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable() && inbox_.empty() && waiting_.empty() && running_.empty()) {
      return;
    }
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  TakeInbox();
  for (auto& s : running_) Finish(*s, FinishReason::kStop, true, Status::Ok());
  for (auto& s : waiting_) {
    if (s) Finish(*s, FinishReason::kStop, true, Status::Ok());
  }
  std::erase(running_, nullptr);
  std::erase(waiting_, nullptr);
  PublishSnapshot();
}

}  // namespace kvik
