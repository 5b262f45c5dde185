// Redis result store: several front-ends share one cache. One synchronous hiredis connection per
// store, guarded by a mutex; a broken connection is re-established once per call.
#include <hiredis/hiredis.h>

#include <mutex>

#include "kvik/lsh_cache.h"

namespace kvik::lsh {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// SCAN MATCH is a glob: escape the characters it treats specially so a prefix matches literally.
std::string EscapeGlob(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return escaped;
}

class RedisStore final : public ResultStore {
 public:
  RedisStore(RedisStoreOptions options, std::string host, int port)
      : options_(std::move(options)), host_(std::move(host)), port_(port) {}
  ~RedisStore() override {
    if (context_ != nullptr) redisFree(context_);
  }

  Status Connect() {
    if (context_ != nullptr) redisFree(context_);
    timeval timeout{static_cast<time_t>(options_.connect_timeout.count() / 1000),
                    static_cast<suseconds_t>((options_.connect_timeout.count() % 1000) * 1000)};
    context_ = redisConnectWithTimeout(host_.c_str(), port_, timeout);
    if (context_ == nullptr || context_->err) {
      std::string why = context_ ? context_->errstr : "out of memory";
      if (context_ != nullptr) redisFree(context_);
      context_ = nullptr;
      return IoError("redis " + options_.address + ": cannot connect: " + why);
    }
    return Status::Ok();
  }

  Status Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override {
    if (ttl.count() == 0) ttl = options_.default_ttl;
    std::string full = options_.key_namespace + std::string(key);
    std::lock_guard lock(mutex_);
    ++stats_.puts;
    Result<Reply> reply =
        ttl.count() > 0
            ? Command("SET %b %b PX %lld", full.data(), full.size(), value.data(), value.size(),
                      static_cast<long long>(ttl.count()))
            : Command("SET %b %b", full.data(), full.size(), value.data(), value.size());
    return reply.status();
  }

  Result<std::optional<std::string>> Get(std::string_view key) override {
    std::string full = options_.key_namespace + std::string(key);
    std::lock_guard lock(mutex_);
    ++stats_.gets;
    KVIK_ASSIGN_OR_RETURN(Reply reply, Command("GET %b", full.data(), full.size()));
    if (reply->type == REDIS_REPLY_NIL) return std::optional<std::string>();
    if (reply->type != REDIS_REPLY_STRING)
      return Corrupt("redis " + options_.address + ": GET gave no string");
    ++stats_.hits;
    return std::optional<std::string>(std::string(reply->str, reply->len));
  }

  Result<bool> Erase(std::string_view key) override {
    std::string full = options_.key_namespace + std::string(key);
    std::lock_guard lock(mutex_);
    KVIK_ASSIGN_OR_RETURN(Reply reply, Command("DEL %b", full.data(), full.size()));
    bool erased = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    stats_.invalidations += erased;
    return erased;
  }

  Result<uint64_t> EraseByPrefix(std::string_view prefix) override {
    std::string pattern = EscapeGlob(options_.key_namespace) + EscapeGlob(prefix) + "*";
    std::lock_guard lock(mutex_);
    uint64_t erased = 0;
    std::string cursor = "0";
    do {
      KVIK_ASSIGN_OR_RETURN(Reply reply, Command("SCAN %s MATCH %b COUNT 1000", cursor.c_str(),
                                                 pattern.data(), pattern.size()));
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
          reply->element[0]->type != REDIS_REPLY_STRING ||
          reply->element[1]->type != REDIS_REPLY_ARRAY) {
        return Corrupt("redis " + options_.address + ": unexpected SCAN reply");
      }
      cursor.assign(reply->element[0]->str, reply->element[0]->len);
      const redisReply* keys = reply->element[1];
      for (size_t i = 0; i < keys->elements; ++i) {
        const redisReply* k = keys->element[i];
        KVIK_ASSIGN_OR_RETURN(Reply del, Command("DEL %b", k->str, k->len));
        if (del->type == REDIS_REPLY_INTEGER) erased += static_cast<uint64_t>(del->integer);
      }
    } while (cursor != "0");
    stats_.invalidations += erased;
    return erased;
  }

  ResultStoreStats Stats() override {
    std::lock_guard lock(mutex_);
    ResultStoreStats stats = stats_;
    auto reply = Command("DBSIZE");
    if (reply.ok() && (*reply)->type == REDIS_REPLY_INTEGER) stats.entries = (*reply)->integer;
    return stats;
  }

 private:
  // Runs one command; on a connection error reconnects and retries once. Caller holds mutex_.
  template <typename... Args>
  Result<Reply> Command(const char* format, Args... args) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (context_ == nullptr) KVIK_RETURN_IF_ERROR(Connect());
      auto* raw = static_cast<redisReply*>(redisCommand(context_, format, args...));
      if (raw == nullptr) {
        std::string why = context_->errstr;
        redisFree(context_);
        context_ = nullptr;
        if (attempt == 1) return IoError("redis " + options_.address + ": " + why);
        continue;
      }
      Reply reply(raw);
      if (reply->type == REDIS_REPLY_ERROR) {
        return IoError("redis " + options_.address + ": " + std::string(reply->str, reply->len));
      }
      return reply;
    }
    return IoError("redis " + options_.address + ": unreachable");
  }

  RedisStoreOptions options_;
  std::string host_;
  int port_;
  std::mutex mutex_;
  redisContext* context_ = nullptr;
  ResultStoreStats stats_;
};

}  // namespace

Result<std::unique_ptr<ResultStore>> MakeRedisStore(const RedisStoreOptions& options) {
  size_t colon = options.address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("--redis '" + options.address + "': expected HOST:PORT");
  }
  std::string host = options.address.substr(0, colon);
  int port = 0;
  for (char c : options.address.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535)
      return InvalidArgument("--redis '" + options.address + "': bad port");
    port = port * 10 + (c - '0');
  }
  if (port <= 0 || port > 65535)
    return InvalidArgument("--redis '" + options.address + "': port must be 1..65535");
  auto store = std::make_unique<RedisStore>(options, host, port);
  KVIK_RETURN_IF_ERROR(store->Connect());
  return std::unique_ptr<ResultStore>(std::move(store));
}

}  // namespace kvik::lsh
