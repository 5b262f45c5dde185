// `kvik serve --semantic-cache INDEX`: the MinHash-LSH query index (src/lsh) in front of the model.
// A query is mapped to its cluster's canonical query; the completion of the first greedy request
// of a cluster is stored under that canonical (and max_tokens), and near-duplicates get it back.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "kvik/lsh.h"
#include "kvik/lsh_cache.h"
#include "kvik/server.h"

namespace kvik::server {

class SemanticPromptCache : public PromptCache {
 public:
  // `min_votes` 0: the index's default (half the bands).
  SemanticPromptCache(std::shared_ptr<const lsh::Index> index,
                      std::unique_ptr<lsh::ResultStore> store, uint32_t min_votes);

  std::optional<Entry> Lookup(std::string_view query, int max_tokens) override;
  void Store(std::string_view query, int max_tokens, const Entry& entry) override;
  std::string MetricsText() const override;

 private:
  std::optional<std::string> Key(std::string_view query, int max_tokens) const;

  std::shared_ptr<const lsh::Index> index_;
  std::unique_ptr<lsh::ResultStore> store_;
  uint32_t min_votes_;
  std::atomic<uint64_t> lookups_{0}, hits_{0}, unmapped_{0}, stores_{0};
};

}  // namespace kvik::server
