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

  // -- Sentinel ---------------------------------------------------------------
  /// Non-empty: `endpoint` is a template (credentials, database, transport) and its host and
  /// port are the master's, found through these sentinels and followed across failovers.
  std::vector<redis_endpoint> sentinels;
  std::string master_name;
  std::string sentinel_username; ///< the sentinels' own ACL user, if they require one
  std::string sentinel_password;
  milliseconds sentinel_refresh{5000}; ///< ask the sentinels again at least this often
  /// Calls wait from a failover's start until the new master is known, for at most this long.
  milliseconds sentinel_failover_hold{5000};
  /// Ask every new connection `ROLE` and refuse it unless it is a master: a demoted master
  /// must never take writes (on by itself with sentinels).
  bool verify_master = false;

  // -- Cluster ----------------------------------------------------------------
  /// Non-empty: a Redis Cluster, first reached through these nodes. `endpoint` is a template
  /// (credentials, transport); each node's pool gets its host and port from the slot map.
  std::vector<redis_endpoint> cluster_seeds;
  milliseconds cluster_refresh{5000}; ///< ask for the slot map again at least this often
  /// Set on the pool of one Cluster node: TRYAGAIN and CLUSTERDOWN reach redis_pool as the
  /// errors they are (it asks again within the budget), and do not count against the breaker.
  bool cluster_node = false;

  // -- Durability -------------------------------------------------------------
  /// After each script of durable_scripts.hpp, `WAIT wait_replicas wait_timeout` on the same
  /// connection, so that its reply comes once that many replicas have the write. 0: off.
  std::size_t wait_replicas = 0;
  milliseconds wait_timeout{100};
  /// What a short WAIT (fewer replicas in time) answers: true, "sent, outcome unknown" (the
  /// caller undoes or reports it as for a lost reply, so every success it gives was on that
  /// many replicas); false, the write's own reply (counted; availability first).
  bool wait_required = true;

  bool uses_sentinel() const { return !sentinels.empty(); }
  bool uses_cluster() const { return !cluster_seeds.empty(); }
  /// Where the link goes, for logs: the URL, or the Sentinel group (never a password).
  std::string describe() const {
    if (uses_cluster()) {
      std::string out = endpoint.transport == transport_kind::tls ? "rediss-cluster://"
                                                                  : "redis-cluster://";
      for (std::size_t i = 0; i < cluster_seeds.size(); ++i)
        out += (i ? "," : "") + cluster_seeds[i].host + ":" + std::to_string(cluster_seeds[i].port);
      return out;
    }
    if (!uses_sentinel()) return endpoint.describe();
    std::string out = endpoint.transport == transport_kind::tls ? "rediss-sentinel://"
                                                                : "redis-sentinel://";
    for (std::size_t i = 0; i < sentinels.size(); ++i)
      out += (i ? "," : "") + sentinels[i].host + ":" + std::to_string(sentinels[i].port);
    return out + "/" + master_name;
  }
};

} // namespace baton::redis_link
