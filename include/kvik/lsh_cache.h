// Result store for the semantic cache: canonical key → result bytes. Keys are canonical query texts
// (stable across nightly index rebuilds, unlike cluster ids), so prefix invalidation ("everything
// starting with 'nike '") is the fast path for catalog changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kvik/status.h"

namespace kvik::lsh {

struct ResultStoreStats {
  uint64_t entries = 0, bytes = 0, capacity_bytes = 0;
  uint64_t gets = 0, hits = 0, puts = 0, evictions = 0, expirations = 0, invalidations = 0;
};

// All methods are thread-safe.
class ResultStore {
 public:
  virtual ~ResultStore() = default;
  // ttl 0 = the store's default TTL (which may be "never expires").
  virtual Status Put(std::string_view key, std::string_view value,
                     std::chrono::milliseconds ttl = std::chrono::milliseconds(0)) = 0;
  // nullopt when absent or expired.
  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;
  // Returns whether the key was present.
  virtual Result<bool> Erase(std::string_view key) = 0;
  // Returns how many keys started with prefix (an empty prefix clears everything).
  virtual Result<uint64_t> EraseByPrefix(std::string_view prefix) = 0;
  virtual ResultStoreStats Stats() = 0;
};

struct MemoryStoreOptions {
  uint64_t capacity_bytes = 64ull << 20;     // key + value bytes; least recently used go first
  std::chrono::milliseconds default_ttl{0};  // 0 = no expiry
  // Injectable clock for tests; default steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// In-process store: LRU over an ordered map (so prefix erase is a range), byte capacity, TTL.
std::unique_ptr<ResultStore> MakeMemoryStore(MemoryStoreOptions options = {});

struct RedisStoreOptions {
  std::string address;  // HOST:PORT
  std::string key_namespace = "kvik:lsh:";
  std::chrono::milliseconds default_ttl{0};
  std::chrono::milliseconds connect_timeout{2000};
};

// Redis store (hiredis): SET PX / GET / DEL, prefix erase by SCAN MATCH with glob characters
// escaped. Capacity and LRU are Redis's own (maxmemory + maxmemory-policy allkeys-lru).
Result<std::unique_ptr<ResultStore>> MakeRedisStore(const RedisStoreOptions& options);

}  // namespace kvik::lsh
