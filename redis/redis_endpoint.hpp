// Where and how to reach Redis, parsed from a URL:
//   redis://[user[:password]@]host[:port][/db]    plain TCP
//   rediss://[user[:password]@]host[:port][/db]   TLS
//   unix:///path/to/redis.sock[?db=N]              Unix socket
// and a replication group found through its Sentinels:
//   redis-sentinel://[user[:password]@]host[:port][,host[:port]...]/master_name[/db]
//   rediss-sentinel://...                          the same, TLS to sentinels and servers
// and a Redis Cluster, first reached through some of its nodes (database 0 only):
//   redis-cluster://[user[:password]@]host[:port][,host[:port]...]
//   rediss-cluster://...                           the same, TLS
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace baton::redis_link {

enum class transport_kind { tcp, tls, unix_socket };

struct redis_endpoint {
  transport_kind transport = transport_kind::tcp;
  std::string host = "127.0.0.1";
  unsigned short port = 6379;
  std::string path; ///< for unix_socket
  std::string username;
  std::string password;
  int database = 0;

  /// "redis://127.0.0.1:6379/0" style, never with the password.
  std::string describe() const;
};

/// A replication group behind Sentinel: where to ask, for which master, and how to reach the
/// servers once known (`data` is a template: its host and port come from the sentinels).
struct sentinel_group {
  std::vector<redis_endpoint> sentinels; ///< host and port (default 26379), transport
  std::string master_name;
  redis_endpoint data; ///< credentials, database and transport of the servers
};

/// True if `url` names a Sentinel group (redis-sentinel:// or rediss-sentinel://).
bool is_sentinel_url(const std::string& url);

/// Parses a redis-sentinel:// URL. On failure returns nullopt and sets `error`.
std::optional<sentinel_group> parse_sentinel_url(const std::string& url, std::string& error);

/// A Redis Cluster: the nodes to ask first for the slot map, and how to reach every node
/// (`data` is a template: credentials and transport; host and port come from the map).
struct cluster_seeds {
  std::vector<redis_endpoint> seeds; ///< host and port (default 6379), transport
  redis_endpoint data;
};

/// True if `url` names a Redis Cluster (redis-cluster:// or rediss-cluster://).
bool is_cluster_url(const std::string& url);

/// Parses a redis-cluster:// URL. On failure returns nullopt and sets `error`.
std::optional<cluster_seeds> parse_cluster_url(const std::string& url, std::string& error);

/// Parses any kind of URL, for checking a config: true if `url` is valid.
bool valid_redis_url(const std::string& url, std::string& error);

/// Parses a Redis URL. On failure returns nullopt and sets `error` to one clear sentence.
std::optional<redis_endpoint> parse_redis_url(const std::string& url, std::string& error);

} // namespace baton::redis_link
