// Redis URL parsing; see redis_endpoint.hpp.
#include "redis/redis_endpoint.hpp"

#include <cstdlib>

namespace baton::redis_link {
namespace {

bool parse_number(const std::string& text, long min, long max, long& out) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  out = std::strtol(text.c_str(), nullptr, 10);
  return out >= min && out <= max;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      auto hex = text.substr(i + 1, 2);
      char* end = nullptr;
      long value = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

} // namespace

std::string redis_endpoint::describe() const {
  std::string user = username.empty() ? "" : username + "@";
  switch (transport) {
  case transport_kind::unix_socket:
    return "unix://" + path + (database != 0 ? "?db=" + std::to_string(database) : "");
  case transport_kind::tls:
    return "rediss://" + user + host + ":" + std::to_string(port) + "/" + std::to_string(database);
  default:
    return "redis://" + user + host + ":" + std::to_string(port) + "/" + std::to_string(database);
  }
}

std::optional<redis_endpoint> parse_redis_url(const std::string& url, std::string& error) {
  redis_endpoint ep;
  std::string rest;
  if (is_sentinel_url(url) || is_cluster_url(url)) {
    error = std::string("a ") + (is_cluster_url(url) ? "redis-cluster" : "redis-sentinel") +
            ":// URL names many servers, not one";
    return std::nullopt;
  }
  if (url.rfind("redis://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("rediss://", 0) == 0) {
    ep.transport = transport_kind::tls;
    rest = url.substr(9);
  } else if (url.rfind("unix://", 0) == 0) {
    ep.transport = transport_kind::unix_socket;
    rest = url.substr(7);
    auto query = rest.find('?');
    ep.path = rest.substr(0, query);
    if (ep.path.empty() || ep.path[0] != '/') {
      error = "unix:// URL needs an absolute socket path, e.g. unix:///run/redis/redis.sock";
      return std::nullopt;
    }
    if (query != std::string::npos) {
      std::string q = rest.substr(query + 1);
      long db = 0;
      if (q.rfind("db=", 0) != 0 || !parse_number(q.substr(3), 0, 1 << 20, db)) {
        error = "unix:// URL accepts only ?db=N, got '?" + q + "'";
        return std::nullopt;
      }
      ep.database = static_cast<int>(db);
    }
    return ep;
  } else {
    error = "Redis URL must start with redis://, rediss://, unix://, redis-sentinel:// or "
            "redis-cluster://, got '" +
            url + "'";
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos && slash + 1 < rest.size()) {
    long db = 0;
    if (!parse_number(rest.substr(slash + 1), 0, 1 << 20, db)) {
      error = "Redis URL database must be a number, got '" + rest.substr(slash + 1) + "'";
      return std::nullopt;
    }
    ep.database = static_cast<int>(db);
  }
  auto at = authority.rfind('@');
  if (at != std::string::npos) {
    std::string credentials = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = credentials.find(':');
    ep.username = percent_decode(credentials.substr(0, colon));
    if (colon != std::string::npos) ep.password = percent_decode(credentials.substr(colon + 1));
  }
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') { // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "Redis URL has an unclosed '[' in its host";
      return std::nullopt;
    }
    ep.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        error = "Redis URL has garbage after its IPv6 host";
        return std::nullopt;
      }
      has_port = true;
      port_text = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    ep.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (ep.host.empty()) {
    error = "Redis URL has no host: '" + url + "'";
    return std::nullopt;
  }
  if (has_port) {
    long port = 0;
    if (!parse_number(port_text, 1, 65535, port)) {
      error = "Redis URL port must be 1-65535, got '" + port_text + "'";
      return std::nullopt;
    }
    ep.port = static_cast<unsigned short>(port);
  }
  return ep;
}

namespace {
// "h1:p1,h2:p2,[::1]:p3": each host parsed as a redis:// URL of its own, so every rule of one
// applies (IPv6, port range); a host without a port gets `default_port`.
bool parse_hosts(const std::string& authority, bool tls, unsigned short default_port,
                 const char* what, std::vector<redis_endpoint>& out, std::string& error) {
  std::size_t start = 0;
  while (start <= authority.size()) {
    auto comma = authority.find(',', start);
    auto host =
        authority.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool has_port = host.find(']') != std::string::npos ? host.find("]:") != std::string::npos
                                                        : host.find(':') != std::string::npos;
    auto node = parse_redis_url(std::string(tls ? "rediss://" : "redis://") + host, error);
    if (!node) {
      error = std::string(what) + " URL host '" + host + "': " + error;
      return false;
    }
    if (!has_port) node->port = default_port;
    out.push_back(*node);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}
} // namespace

bool is_sentinel_url(const std::string& url) {
  return url.rfind("redis-sentinel://", 0) == 0 || url.rfind("rediss-sentinel://", 0) == 0;
}

std::optional<sentinel_group> parse_sentinel_url(const std::string& url, std::string& error) {
  if (!is_sentinel_url(url)) {
    error = "a Sentinel URL starts with redis-sentinel:// or rediss-sentinel://";
    return std::nullopt;
  }
  bool tls = url.rfind("rediss-", 0) == 0;
  std::string rest = url.substr(tls ? 18 : 17);
  // Credentials, if any, belong to the servers; the hosts are the sentinels'. Each host is
  // parsed as a redis:// URL of its own, so every rule of one applies (IPv6, port range).
  std::string credentials;
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  auto at = authority.find('@');
  if (at != std::string::npos) {
    credentials = authority.substr(0, at + 1);
    authority = authority.substr(at + 1);
  }
  // One set of credentials, before the first host: an '@' among the hosts is a password that
  // should have been percent-encoded, or credentials per host, which Sentinel URLs do not have.
  if (authority.find('@') != std::string::npos) {
    error = "Sentinel URL has '@' among its hosts: give the servers' credentials once, before "
            "the first host, with '@', ',' and '/' in them percent-encoded (%40, %2C, %2F)";
    return std::nullopt;
  }
  std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  auto db_slash = path.find('/');
  sentinel_group group;
  group.master_name = path.substr(0, db_slash);
  if (group.master_name.empty()) {
    error = "Sentinel URL needs the master's name after the hosts, e.g. "
            "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster";
    return std::nullopt;
  }
  for (char c : group.master_name)
    if (c == ' ' || c == '\r' || c == '\n' || c == '?' || c == '#') {
      error = "Sentinel master name must not contain spaces, '?' or '#'";
      return std::nullopt;
    }
  std::string db = db_slash == std::string::npos ? "" : path.substr(db_slash);
  auto data = parse_redis_url(
      std::string(tls ? "rediss://" : "redis://") + credentials + "placeholder" + db, error);
  if (!data) return std::nullopt;
  data->host.clear();
  group.data = *data;
  if (!parse_hosts(authority, tls, 26379, "Sentinel", group.sentinels, error)) return std::nullopt;
  return group;
}

bool is_cluster_url(const std::string& url) {
  return url.rfind("redis-cluster://", 0) == 0 || url.rfind("rediss-cluster://", 0) == 0;
}

std::optional<cluster_seeds> parse_cluster_url(const std::string& url, std::string& error) {
  if (!is_cluster_url(url)) {
    error = "a Cluster URL starts with redis-cluster:// or rediss-cluster://";
    return std::nullopt;
  }
  bool tls = url.rfind("rediss-", 0) == 0;
  std::string rest = url.substr(tls ? 17 : 16);
  auto slash = rest.find('/');
  if (slash != std::string::npos && rest.find_first_not_of("/0", slash) != std::string::npos) {
    error = "a Cluster URL names no database: Redis Cluster has database 0 only";
    return std::nullopt;
  }
  std::string authority = rest.substr(0, slash);
  std::string credentials;
  auto at = authority.find('@');
  if (at != std::string::npos) {
    credentials = authority.substr(0, at + 1);
    authority = authority.substr(at + 1);
  }
  if (authority.find('@') != std::string::npos) {
    error = "Cluster URL has '@' among its hosts: give the credentials once, before the first "
            "host, with '@', ',' and '/' in them percent-encoded (%40, %2C, %2F)";
    return std::nullopt;
  }
  auto data =
      parse_redis_url(std::string(tls ? "rediss://" : "redis://") + credentials + "placeholder", error);
  if (!data) return std::nullopt;
  data->host.clear();
  cluster_seeds out;
  out.data = *data;
  if (!parse_hosts(authority, tls, 6379, "Cluster", out.seeds, error)) return std::nullopt;
  return out;
}

bool valid_redis_url(const std::string& url, std::string& error) {
  if (is_sentinel_url(url)) return parse_sentinel_url(url, error).has_value();
  if (is_cluster_url(url)) return parse_cluster_url(url, error).has_value();
  return parse_redis_url(url, error).has_value();
}

} // namespace baton::redis_link
