#include "server/semantic_cache.h"

#include <nlohmann/json.hpp>

#include <sstream>

namespace kvik::server {

SemanticPromptCache::SemanticPromptCache(std::shared_ptr<const lsh::Index> index,
                                         std::unique_ptr<lsh::ResultStore> store,
                                         uint32_t min_votes)
    : index_(std::move(index)), store_(std::move(store)), min_votes_(min_votes) {}

std::optional<std::string> SemanticPromptCache::Key(std::string_view query, int max_tokens) const {
  const auto match = index_->Lookup(query, min_votes_);
  if (!match) return std::nullopt;
  // The same question with a different length limit is a different answer.
  return std::string(match->canonical) + "\x1f" + std::to_string(max_tokens);
}

std::optional<PromptCache::Entry> SemanticPromptCache::Lookup(std::string_view query,
                                                              int max_tokens) {
  ++lookups_;
  const auto key = Key(query, max_tokens);
  if (!key) {
    ++unmapped_;
    return std::nullopt;
  }
  auto stored = store_->Get(*key);
  if (!stored.ok() || !*stored) return std::nullopt;
  const auto value = nlohmann::json::parse(**stored, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object() || !value.contains("text")) return std::nullopt;
  ++hits_;
  Entry entry;
  entry.text = value.value("text", "");
  entry.finish = value.value("finish", "stop") == "length" ? FinishReason::kLength
                                                            : FinishReason::kStop;
  entry.completion_tokens = value.value("completion_tokens", 0);
  return entry;
}

void SemanticPromptCache::Store(std::string_view query, int max_tokens, const Entry& entry) {
  const auto key = Key(query, max_tokens);
  if (!key) return;
  const nlohmann::json value = {{"text", entry.text},
                                {"finish", FinishReasonName(entry.finish)},
                                {"completion_tokens", entry.completion_tokens}};
  if (store_->Put(*key, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).ok()) {
    ++stores_;
  }
}

std::string SemanticPromptCache::MetricsText() const {
  std::ostringstream out;
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
        << name << ' ' << value << '\n';
  };
  counter("kvik_semantic_cache_lookups_total", "Greedy requests checked against the cache.",
          lookups_.load());
  counter("kvik_semantic_cache_hits_total", "Requests answered from a stored completion.",
          hits_.load());
  counter("kvik_semantic_cache_unmapped_total", "Queries that matched no cluster of the index.",
          unmapped_.load());
  counter("kvik_semantic_cache_stores_total", "Completions stored.", stores_.load());
  return out.str();
}

}  // namespace kvik::server
