// Everything the Redis link needs to know, filled from the config's `redis:` section.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "redis/redis_endpoint.hpp"
#include "redis/redis_transport.hpp"

namespace baton::redis_link {

using clock = std::chrono::steady_clock;
using milliseconds = std::chrono::milliseconds;

struct link_settings {
  redis_endpoint endpoint;
  tls_options tls;
  std::string client_name = "baton";  ///< CLIENT SETNAME on every connection
  std::size_t connections = 2;        ///< connections in the pool
  milliseconds call_timeout{250};     ///< budget of one call, queueing included
  milliseconds connect_timeout{1000}; ///< connect + TLS + AUTH handshake
  milliseconds dead_connection{3000}; ///< no reply for this long: reconnect
  milliseconds reconnect_min{50};     ///< first backoff step
  milliseconds reconnect_max{2000};   ///< backoff ceiling (full jitter below it)
  std::size_t breaker_failures = 5;   ///< consecutive failures that open the breaker
  milliseconds breaker_cooldown{500}; ///< first open period; doubles up to reconnect_max
  std::size_t max_queued = 10000;     ///< calls waiting for a connection, at most
  /// Script bodies to SCRIPT LOAD on every connection before it is ready (the pool fills it):
  /// then EVALSHA never meets NOSCRIPT after a Redis restart, and the EVAL fallback, which
  /// could reorder one client's calls, is left for SCRIPT FLUSH.
  std::vector<std::string> preload_scripts;
};

} // namespace baton::redis_link
