// batond's configuration as plain structs with their defaults in place. Parsed once from YAML
// by config_loader (which validates everything and reports file:line:column per problem);
// deploy/baton.example.yaml documents every key. Running without a file uses these defaults.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "model/breaker/breaker_policy.hpp"
#include "model/secret/secret_settings.hpp"
#include "model/cache/cache_settings.hpp"
#include "model/events/events_settings.hpp"
#include "model/state/state_settings.hpp"
#include "redis/link_settings.hpp"
#include "services/rate/rate_policy.hpp"

namespace baton {

using std::chrono::milliseconds;

struct socket_config {
  std::string path = "/run/baton/baton.sock";
  mode_t mode = 0660;
  std::string group; ///< empty: the daemon's own group
  std::size_t max_clients = 4096;
  std::size_t max_request_bytes = 4 << 20; ///< one request
  std::size_t max_arguments = 4096;        ///< per request
  std::size_t max_pipeline = 256;          ///< unanswered requests per connection
  std::size_t max_clients_per_uid = 1024;  ///< one app cannot take every connection
  milliseconds request_timeout{10000};     ///< a request begun must end within this
  milliseconds idle_timeout{0};            ///< 0: never; watchers are never idle
  /// Partial requests and unsent replies and pushes of all clients together: past it, the
  /// client whose buffer just grew is disconnected (one client cannot starve the others).
  std::size_t max_buffered_bytes = 256 << 20;
  /// Names (leases, groups, secrets, breakers, session feeds) watched by all connections of
  /// one uid together: one app cannot make this node follow everything.
  std::size_t max_watches_per_uid = 100000;
};

struct http_config {
  bool enabled = true;
  std::string listen = "127.0.0.1:9464";
  std::size_t max_connections = 64; ///< open at once; more are closed at once and counted
  bool ui = true;                   ///< the read-only fleet page at /ui
};

struct redis_config {
  std::string url = "redis://127.0.0.1:6379";
  std::string username;
  std::string password; ///< from `password` or read from `password_file`
  std::string password_file;
  int database = -1; ///< -1: from the URL (default 0)
  std::size_t connections = 2;
  milliseconds call_timeout{250};
  milliseconds connect_timeout{1000};
  milliseconds dead_connection{3000};
  milliseconds reconnect_min{50};
  milliseconds reconnect_max{2000};
  std::size_t breaker_failures = 5;
  milliseconds breaker_cooldown{500};
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
  bool tls_verify = true;
  // A Sentinel group (url: redis-sentinel://...): the sentinels' own ACL user, and how often
  // to ask them even without news.
  std::string sentinel_username;
  std::string sentinel_password; ///< from `sentinel_password` or `sentinel_password_file`
  std::string sentinel_password_file;
  milliseconds sentinel_refresh{5000};
  milliseconds sentinel_failover_hold{5000};
  // A Redis Cluster (url: redis-cluster://...): how often to ask for the slot map even
  // without a redirect or a broken connection.
  milliseconds cluster_refresh{5000};
  // The health sampler (actors/redis_health) reads INFO, LATENCY LATEST and SLOWLOG LEN this
  // often; 0: never.
  milliseconds health_interval{5000};
  // Durable writes (redis/durable_scripts.hpp) wait for this many replicas; 0: no WAIT.
  std::size_t wait_replicas = 0;
  milliseconds wait_timeout{100};
  bool wait_required = true; ///< wait_short: fail (true) or accept
};

struct log_config {
  log::level level = log::level::info;
  log::format format = log::format::text;
};

/// Who may use which command families, by the caller's uid and groups (SO_PEERCRED).
struct access_rule {
  std::vector<uid_t> uids;           ///< resolved from `users` and `uids`
  std::vector<gid_t> gids;           ///< resolved from `groups`
  std::vector<std::string> families; ///< lower case; "*" for all
  /// Empty: every name. Else the families are granted for these names only (exact, or a
  /// prefix ending in '*'), and not for commands that name nothing (protocol/command_names).
  std::vector<std::string> names;
};

struct access_config {
  bool default_allow = true;     ///< callers no rule names
  std::vector<gid_t> admin_gids; ///< may run admin verbs; uid 0 always may
  std::vector<access_rule> rules;
};

struct leases_config {
  milliseconds lock_delay{0}; ///< name unavailable this long after an unclean loss
  std::size_t max_name_length = 256;
  milliseconds min_ttl{10};
  milliseconds max_ttl{24 * 3600 * 1000};
};

using rate::rate_policy;
using rate::rate_window;

struct rate_config {
  std::size_t max_key_length = 256;
  milliseconds budget{100}; ///< the most a check waits for Redis before its failure mode answers
  std::vector<rate_policy> policies;
};

/// DEDUP CLAIM|DONE|GET: idempotency keys with stored results.
struct dedup_config {
  std::size_t max_key_length = 256;
  std::size_t max_result_bytes = 64 * 1024;
  milliseconds max_ttl{7LL * 24 * 3600 * 1000};
  milliseconds result_ttl{24 * 3600 * 1000}; ///< DONE without ttl_ms keeps the result this long
};

/// SESSION OPEN|GET|TOUCH|CLOSE|LIST|STATE|RESUME|WATCH.
struct sessions_config {
  milliseconds default_ttl{24 * 3600 * 1000}; ///< sliding; OPEN without ttl_ms
  milliseconds max_ttl{7LL * 24 * 3600 * 1000};
  std::size_t max_state_bytes = 64 * 1024;
  std::size_t max_meta_bytes = 4 * 1024;
  std::size_t max_user_length = 256;
  milliseconds handoff_deadline{10000}; ///< a drain waits this long for clients to resume
  /// After /readyz turns 503, a drain waits this long before moving sessions, so that load
  /// balancers (which poll /readyz) stop sending new clients first.
  milliseconds drain_delay{0};
  std::string handoff_strategy = "least_sessions"; ///< or round_robin
  /// Sessions open for one `user` value, fleet-wide (counted in Redis, lua/session_index.lua).
  std::size_t max_per_user = 1000;
  /// Sessions this node owns; OPEN past it is refused (handoffs and adoptions are not).
  std::size_t max_per_node = 1000000;
};

/// NODE LIST|INFO|DRAIN: this daemon's record in the fleet, kept alive by heartbeats.
struct membership_config {
  std::string address;          ///< how apps and load balancers reach this host; default node_id
  milliseconds heartbeat{1000}; ///< how often the record is refreshed
  milliseconds ttl{5000};       ///< a node silent this long is dropped (its sessions adopted)
};

struct runtime_config {
  std::size_t worker_threads = 2;    ///< CAF scheduler threads
  std::string scheduler = "sharing"; ///< CAF scheduler.policy: sharing or stealing
  milliseconds drift_margin{10};     ///< the least subtracted from a lease's validity
  double drift_fraction = 0.01;      ///< ... and at least this share of its TTL
};

struct config {
  std::string source = "(defaults)"; ///< the file it came from
  std::string node_id;               ///< default: hostname
  std::string prefix = "baton";      ///< every Redis key starts with "<prefix>:"
  /// What the daemon keeps across its restarts (the fencing token floor); empty: nothing.
  std::string state_dir = "/var/lib/baton";
  socket_config socket;
  http_config http;
  redis_config redis;
  log_config log;
  access_config access;
  leases_config leases;
  rate_config rate;
  dedup_config dedup;
  secret::secrets_config secrets;
  breaker::breakers_config breakers; ///< BREAKER CHECK|REPORT|STATE|...: named policies, default
  membership_config membership;
  sessions_config sessions;
  state::state_config state; ///< STATE: namespaces and limits
  cache::cache_config cache; ///< CACHE: namespaces, near caches and limits
  events::events_config events; ///< EVENTS: how much of each topic is kept, limits
  runtime_config runtime;
};

/// Builds the Redis link's settings; fails with `error` if the URL is invalid.
bool make_link_settings(const config& cfg, redis_link::link_settings& out, std::string& error);

/// The machine's hostname, the default node id.
std::string default_node_id();

} // namespace baton
