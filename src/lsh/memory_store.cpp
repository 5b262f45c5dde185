// In-process result store: LRU + TTL + byte capacity + invalidation by key and by key prefix.
#include <list>
#include <map>
#include <mutex>

#include "kvik/lsh_cache.h"

namespace kvik::lsh {
namespace {

using Clock = std::chrono::steady_clock;

class MemoryStore final : public ResultStore {
 public:
  explicit MemoryStore(MemoryStoreOptions options) : options_(std::move(options)) {
    if (!options_.now) options_.now = [] { return Clock::now(); };
  }

  Status Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override {
    const uint64_t bytes = key.size() + value.size();
    if (bytes > options_.capacity_bytes) {
      return ResourceExhausted("result of " + std::to_string(bytes) +
                               " bytes exceeds the cache capacity of " +
                               std::to_string(options_.capacity_bytes) + " bytes");
    }
    std::lock_guard lock(mutex_);
    ++stats_.puts;
    EraseLocked(entries_.find(key));
    if (ttl.count() == 0) ttl = options_.default_ttl;
    auto expiry = ttl.count() > 0 ? options_.now() + ttl : Clock::time_point::max();
    auto [it, inserted] = entries_.emplace(std::string(key), Entry{std::string(value), expiry, {}});
    lru_.push_front(it);
    it->second.lru_position = lru_.begin();
    bytes_ += bytes;
    while (bytes_ > options_.capacity_bytes) {
      EraseLocked(lru_.back());
      ++stats_.evictions;
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> Get(std::string_view key) override {
    std::lock_guard lock(mutex_);
    ++stats_.gets;
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::optional<std::string>();
    if (options_.now() >= it->second.expiry) {
      EraseLocked(it);
      ++stats_.expirations;
      return std::optional<std::string>();
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru_position);  // most recently used
    ++stats_.hits;
    return std::optional<std::string>(it->second.value);
  }

  Result<bool> Erase(std::string_view key) override {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    EraseLocked(it);
    ++stats_.invalidations;
    return true;
  }

  Result<uint64_t> EraseByPrefix(std::string_view prefix) override {
    std::lock_guard lock(mutex_);
    uint64_t erased = 0;
    auto it = entries_.lower_bound(prefix);
    while (it != entries_.end() && std::string_view(it->first).substr(0, prefix.size()) == prefix) {
      EraseLocked(it++);
      ++erased;
    }
    stats_.invalidations += erased;
    return erased;
  }

  ResultStoreStats Stats() override {
    std::lock_guard lock(mutex_);
    ResultStoreStats stats = stats_;
    stats.entries = entries_.size();
    stats.bytes = bytes_;
    stats.capacity_bytes = options_.capacity_bytes;
    return stats;
  }

 private:
  struct Entry;
  using Map = std::map<std::string, Entry, std::less<>>;
  struct Entry {
    std::string value;
    Clock::time_point expiry;
    std::list<Map::iterator>::iterator lru_position;
  };

  void EraseLocked(Map::iterator it) {
    if (it == entries_.end()) return;
    bytes_ -= it->first.size() + it->second.value.size();
    lru_.erase(it->second.lru_position);
    entries_.erase(it);
  }

  MemoryStoreOptions options_;
  std::mutex mutex_;
  Map entries_;
  std::list<Map::iterator> lru_;  // front = most recently used
  uint64_t bytes_ = 0;
  ResultStoreStats stats_;
};

}  // namespace

std::unique_ptr<ResultStore> MakeMemoryStore(MemoryStoreOptions options) {
  return std::make_unique<MemoryStore>(std::move(options));
}

}  // namespace kvik::lsh
