// What the Redis health sampler (actors/redis_health) learns from the server baton uses: its
// memory against maxmemory, evictions, keyspace hits and misses, clients, replication, the
// slow log's length and the latency monitor's latest spikes. Parsed from INFO, LATENCY LATEST
// and SLOWLOG LEN replies here, with no state and no thread, so that the parsing is tested on
// captured replies and the actor only schedules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_reply.hpp"

namespace baton::redis_health {

/// A replica as its primary lists it (INFO replication's slaveN lines).
struct replica_state {
  std::string address; ///< ip:port
  std::string state;   ///< online, wait_bgsave, ...
  std::int64_t lag_bytes = 0; ///< the primary's offset minus the replica's
};

/// One LATENCY LATEST entry: the last and the highest spike of an event, in milliseconds.
struct latency_event {
  std::string event;
  std::int64_t at_unix_s = 0;
  std::int64_t latest_ms = 0;
  std::int64_t max_ms = 0;
};

struct server_health {
  std::string version;
  std::string role;                ///< master or slave
  std::int64_t uptime_s = 0;
  std::int64_t used_memory = 0;
  std::int64_t used_memory_peak = 0;
  std::int64_t maxmemory = 0;      ///< 0: no limit
  std::string maxmemory_policy;
  std::int64_t evicted_keys = 0;
  std::int64_t expired_keys = 0;
  std::int64_t keyspace_hits = 0;
  std::int64_t keyspace_misses = 0;
  std::int64_t connected_clients = 0;
  std::int64_t blocked_clients = 0;
  std::int64_t rejected_connections = 0;
  std::int64_t ops_per_sec = 0;
  std::int64_t keys = 0;           ///< in every database
  std::vector<replica_state> replicas;
  /// A replica server: whether its link to its primary is up, and seconds since it last heard
  /// from it (-1 when up to date or unknown).
  std::optional<bool> primary_link_up;
  std::int64_t primary_last_io_s = -1;
  std::int64_t slowlog_length = 0;
  std::vector<latency_event> latency;

  /// hits / (hits + misses) since the server started; nullopt before any lookup.
  std::optional<double> hit_ratio() const;
  /// The largest lag of a replica in bytes, 0 without replicas.
  std::int64_t max_replica_lag() const;
};

/// Fills what an INFO reply (the default sections) says into `out`; false if the text is not
/// an INFO reply at all (no "redis_version" field).
bool parse_info(std::string_view text, server_health& out);
/// LATENCY LATEST's array of [event, unix time, latest ms, max ms]; false if it is not one.
bool parse_latency_latest(const redis_link::redis_reply& reply, std::vector<latency_event>& out);

/// One primary of a Redis Cluster, from its own INFO (memory, keys, clients, hits are each
/// node's: a Cluster has no one figure for them).
struct primary_health {
  std::string address;                 ///< as the link names the node
  std::optional<server_health> server; ///< nullopt: this node's INFO failed
  std::string error;                   ///< why it failed
};

/// The per-primary part of a sample from `replies`, as redis_pool::call_each_primary answers
/// INFO: one [address, reply] array per primary.
std::vector<primary_health> parse_each_primary_info(
    const std::vector<redis_link::redis_reply>& replies);

/// What the sampler publishes after each sample.
struct health_sample {
  std::optional<server_health> server; ///< nullopt: the last sample failed
  std::string error;                   ///< why it failed
  std::int64_t sampled_unix_ms = 0;    ///< when the last sample (good or not) ended
  std::int64_t last_good_unix_ms = 0;  ///< when one last succeeded, 0 never
  std::uint64_t samples = 0;           ///< samples taken (good or not)
  std::uint64_t failures = 0;          ///< ... that failed
  /// On a Cluster, every primary of the map (INFO only); empty on one server or Sentinel,
  /// where `server` is the whole story.
  std::vector<primary_health> primaries;
};

} // namespace baton::redis_health
