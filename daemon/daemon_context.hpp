// What every part of a running batond shares: the config, the Redis link, the metrics and
// the node's health. Lives as long as the daemon; owned by main. Members other than the
// atomics are touched only on the I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "daemon/access_policy.hpp"
#include "daemon/config.hpp"
#include "daemon/push_hub.hpp"
#include "metrics/request_metrics.hpp"
#include "redis/link_counters.hpp"
#include "redis/redis_pool.hpp"

namespace baton::lease {
class lease_service;
class lease_watch;
} // namespace baton::lease
namespace baton::dedup {
class dedup_service;
} // namespace baton::dedup
namespace baton::state {
class state_service;
} // namespace baton::state
namespace baton::cache {
class cache_service;
} // namespace baton::cache
namespace baton::events {
class events_service;
} // namespace baton::events
namespace baton::rate {
class rate_service;
} // namespace baton::rate
namespace baton::membership {
class membership_service;
} // namespace baton::membership
namespace baton::session {
class session_service;
} // namespace baton::session
namespace baton::secret {
class secret_service;
} // namespace baton::secret
namespace baton::breaker {
class breaker_service;
} // namespace baton::breaker
namespace baton::redis_health {
struct health_sample;
} // namespace baton::redis_health

namespace baton {

struct daemon_context {
  daemon_context(boost::asio::io_context& io_context, config configuration,
                 redis_link::redis_pool& pool, redis_link::link_counters& counters,
                 metrics::request_metrics& request_counters)
      : io(io_context), cfg(std::move(configuration)), redis(pool), link(counters),
        requests(request_counters), access(cfg.access) {}

  boost::asio::io_context& io;
  config cfg;
  redis_link::redis_pool& redis;
  redis_link::link_counters& link;
  metrics::request_metrics& requests;
  access_policy access;
  lease::lease_service* leases = nullptr;            ///< set by main once built
  lease::lease_watch* lease_watch = nullptr;         ///< set by main once built
  rate::rate_service* rates = nullptr;               ///< set by main once built
  dedup::dedup_service* dedup = nullptr;             ///< set by main once built
  state::state_service* state = nullptr;             ///< set by main once built
  cache::cache_service* cache = nullptr;             ///< set by main once built
  events::events_service* events = nullptr;          ///< set by main once built
  secret::secret_service* secrets = nullptr;         ///< set by main when KEKs are configured
  membership::membership_service* members = nullptr; ///< set by main once built
  session::session_service* sessions = nullptr;      ///< set by main when KEKs are configured
  breaker::breaker_service* breakers = nullptr;      ///< set by main once built
  /// The Redis health sampler's last sample (actors/redis_health), posted here after each;
  /// null until the first, and when redis.health_interval_ms is 0.
  std::shared_ptr<const redis_health::health_sample> redis_health;
  push_hub pushes;
  /// Run with a client connection's id when it closes (crash, kill -9, QUIT, stop): whatever
  /// the client held through it (leases, later claims and sessions) is given back.
  std::vector<std::function<void(std::uint64_t)>> on_client_closed;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  double start_unix_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::atomic<bool> draining{false};
  std::uint64_t next_client_id = 0;
  // What all clients hold, for the caps in socket_config (I/O thread only).
  std::size_t buffered_bytes = 0; ///< partial requests and unsent replies and pushes
  std::unordered_map<uid_t, std::size_t> clients_per_uid;
  /// Closes the client that holds the most buffered bytes (socket_server sets it); false if
  /// there was none to close.
  std::function<bool()> close_largest_client;
  std::atomic<std::uint64_t> commands_processed{0};

  /// Ready for traffic: Redis reachable and not draining (/readyz, INFO).
  bool ready() const { return !draining.load() && redis.reachable(); }
  std::int64_t uptime_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                            started)
        .count();
  }
};

} // namespace baton
