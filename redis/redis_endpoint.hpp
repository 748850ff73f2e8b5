// Where and how to reach Redis, parsed from a URL:
//   redis://[user[:password]@]host[:port][/db]    plain TCP
//   rediss://[user[:password]@]host[:port][/db]   TLS
//   unix:///path/to/redis.sock[?db=N]              Unix socket
#pragma once

#include <optional>
#include <string>

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

/// Parses a Redis URL. On failure returns nullopt and sets `error` to one clear sentence.
std::optional<redis_endpoint> parse_redis_url(const std::string& url, std::string& error);

} // namespace baton::redis_link
