// CACHE as this daemon's clients see it: entities cached in Redis with a TTL, and in front of
// Redis a near cache in this daemon's memory per namespace (services/cache/near_cache.hpp),
// kept correct by invalidations every daemon publishes from the same script as its write
// (lua/cache_set.lua, lua/cache_delete.lua) on one channel all daemons follow. A hit is
// answered from memory; a miss reads Redis once however many clients ask at the same moment.
// While the channel is down nothing in memory is trusted (messages may be missed): reads go
// to Redis, and everything cached is dropped when the channel is back. While Redis cannot be
// reached, what is cached is served until its Redis TTL ends, marked degraded.
//
// Runs on the I/O thread, like the other request-path services.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/cache/cache_settings.hpp"
#include "protocol/result.hpp"
#include "redis/redis_pool.hpp"
#include "redis/redis_subscriber.hpp"
#include "services/cache/near_cache.hpp"

namespace baton::cache {

/// What GET answers for a key that has a value.
struct cached {
  std::string value;
  std::int64_t ttl_ms = 0; ///< left in Redis (as of the read that cached it, for a near hit)
  bool near = false;       ///< from this daemon's memory
  bool degraded = false;   ///< Redis could not be asked: it may have changed since
};

struct stored {};
struct tally {
  std::int64_t count = 0;
};

template <class T>
using cache_callback = std::function<void(protocol::result<T>)>;

/// One namespace's figures, for CACHE STATS and /metrics.
struct namespace_stats {
  std::string name;
  near_stats near;
  std::uint64_t redis_hits = 0;   ///< misses of the near cache that Redis had
  std::uint64_t redis_misses = 0; ///< misses everywhere
  std::size_t bytes = 0;
  std::size_t entries = 0;
  std::size_t max_bytes = 0;
};

class cache_service {
public:
  cache_service(redis_link::redis_pool& redis, cache_config config, std::string prefix);
  ~cache_service();

  /// Follows the invalidation channel: subscribed from the first confirmation on, and each
  /// loss of the connection distrusts (then drops) what is cached.
  void listen(redis_link::redis_subscriber& events);

  /// A fresh near-cache hit, or nullopt: GET's path without a callback, for the hits that
  /// are most of a cache's reads (bench/: CACHE GET against PING).
  std::optional<near_hit> near_hit_now(const cache_namespace& ns, const std::string& key,
                                       clock::time_point now);
  /// nullopt: no such entry.
  void get(const cache_namespace& ns, const std::string& key,
           cache_callback<std::optional<cached>> done);
  /// GET after near_hit_now() missed: Redis (or, out of its reach, a degraded answer).
  void read_through(const cache_namespace& ns, const std::string& key,
                    cache_callback<std::optional<cached>> done);
  void set(const cache_namespace& ns, const std::string& key, std::string value,
           milliseconds ttl, cache_callback<stored> done);
  /// DEL and INVALIDATE of keys: deleted in Redis and dropped from every near cache.
  void remove(const cache_namespace& ns, std::vector<std::string> keys, cache_callback<tally> done);
  /// INVALIDATE ... PATTERN: every key matching the glob, by SCAN in batches.
  void remove_matching(const cache_namespace& ns, const std::string& pattern,
                       cache_callback<tally> done);

  std::vector<namespace_stats> stats() const;
  void render_metrics(std::string& out) const;
  /// The invalidation channel: followed, and so the near caches trusted.
  bool following() const { return following_; }

  /// The channel every daemon publishes invalidations on.
  static std::string channel(const std::string& prefix) { return prefix + ":cache-events"; }

private:
  struct space; // one namespace's near cache and counters
  space& space_of(const cache_namespace& ns);
  std::string entry_key(const cache_namespace& ns, const std::string& key) const;
  void on_message(const std::string& payload);
  void distrust();
  /// Drops `key` here and detaches its fill: a write was sent, or answered. Again on the
  /// answer, because a GET of another client may have begun a fill between the write's send
  /// and its run in Redis, which read the old value.
  void forget(space& s, const std::string& key);
  void fill(space& s, const cache_namespace& ns, const std::string& key,
            cache_callback<std::optional<cached>> done);

  redis_link::redis_pool& redis_;
  cache_config config_;
  std::string prefix_;
  std::map<std::string, std::unique_ptr<space>> spaces_;
  bool following_ = false;
  redis_link::redis_subscriber* events_ = nullptr; ///< the channel's connection (listen)
};

} // namespace baton::cache
