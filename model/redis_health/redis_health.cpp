// Parsing the sampler's replies; see redis_health.hpp.
#include "model/redis_health/redis_health.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

namespace baton::redis_health {
namespace {

std::int64_t number(std::string_view text) {
  return std::strtoll(std::string(text).c_str(), nullptr, 10);
}

// "k1=v1,k2=v2" (a slaveN or dbN line) as a map.
std::map<std::string, std::string, std::less<>> fields_of(std::string_view line) {
  std::map<std::string, std::string, std::less<>> out;
  while (!line.empty()) {
    auto comma = line.find(',');
    auto part = line.substr(0, comma);
    auto eq = part.find('=');
    if (eq != std::string_view::npos)
      out.emplace(std::string(part.substr(0, eq)), std::string(part.substr(eq + 1)));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return out;
}

std::string field(const std::map<std::string, std::string, std::less<>>& m, std::string_view k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

} // namespace

std::optional<double> server_health::hit_ratio() const {
  auto lookups = keyspace_hits + keyspace_misses;
  if (lookups <= 0) return std::nullopt;
  return static_cast<double>(keyspace_hits) / static_cast<double>(lookups);
}

std::int64_t server_health::max_replica_lag() const {
  std::int64_t lag = 0;
  for (const auto& r : replicas)
    lag = std::max(lag, r.lag_bytes);
  return lag;
}

bool parse_info(std::string_view text, server_health& out) {
  bool seen_version = false;
  std::int64_t primary_offset = 0;
  std::vector<std::pair<replica_state, std::int64_t>> replicas; // with each one's offset
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = line.substr(0, colon);
    auto value = line.substr(colon + 1);
    if (key == "redis_version") {
      out.version = std::string(value);
      seen_version = true;
    } else if (key == "role") {
      out.role = std::string(value);
    } else if (key == "uptime_in_seconds") {
      out.uptime_s = number(value);
    } else if (key == "used_memory") {
      out.used_memory = number(value);
    } else if (key == "used_memory_peak") {
      out.used_memory_peak = number(value);
    } else if (key == "maxmemory") {
      out.maxmemory = number(value);
    } else if (key == "maxmemory_policy") {
      out.maxmemory_policy = std::string(value);
    } else if (key == "evicted_keys") {
      out.evicted_keys = number(value);
    } else if (key == "expired_keys") {
      out.expired_keys = number(value);
    } else if (key == "keyspace_hits") {
      out.keyspace_hits = number(value);
    } else if (key == "keyspace_misses") {
      out.keyspace_misses = number(value);
    } else if (key == "connected_clients") {
      out.connected_clients = number(value);
    } else if (key == "blocked_clients") {
      out.blocked_clients = number(value);
    } else if (key == "rejected_connections") {
      out.rejected_connections = number(value);
    } else if (key == "instantaneous_ops_per_sec") {
      out.ops_per_sec = number(value);
    } else if (key == "master_repl_offset") {
      primary_offset = number(value);
    } else if (key == "master_link_status") {
      out.primary_link_up = value == "up";
    } else if (key == "master_last_io_seconds_ago") {
      out.primary_last_io_s = number(value);
    } else if (key.substr(0, 5) == "slave" && key.size() > 5 &&
               key.find_first_not_of("0123456789", 5) == std::string_view::npos) {
      auto f = fields_of(value);
      replica_state r;
      r.address = field(f, "ip") + ":" + field(f, "port");
      r.state = field(f, "state");
      replicas.emplace_back(std::move(r), number(field(f, "offset")));
    } else if (key.substr(0, 2) == "db" && key.size() > 2 &&
               key.find_first_not_of("0123456789", 2) == std::string_view::npos) {
      out.keys += number(field(fields_of(value), "keys"));
    }
  }
  out.replicas.clear();
  for (auto& [r, offset] : replicas) {
    r.lag_bytes = std::max<std::int64_t>(0, primary_offset - offset);
    out.replicas.push_back(std::move(r));
  }
  return seen_version;
}

bool parse_latency_latest(const redis_link::redis_reply& reply, std::vector<latency_event>& out) {
  if (reply.kind != redis_link::reply_kind::array) return false;
  out.clear();
  for (const auto& e : reply.elements) {
    if (e.kind != redis_link::reply_kind::array || e.elements.size() < 4) return false;
    latency_event ev;
    ev.event = e.elements[0].str;
    ev.at_unix_s = e.elements[1].integer;
    ev.latest_ms = e.elements[2].integer;
    ev.max_ms = e.elements[3].integer;
    out.push_back(std::move(ev));
  }
  return true;
}

std::vector<primary_health> parse_each_primary_info(
    const std::vector<redis_link::redis_reply>& replies) {
  std::vector<primary_health> out;
  for (const auto& pair : replies) {
    primary_health p;
    if (pair.kind != redis_link::reply_kind::array || pair.elements.size() != 2) {
      p.error = "not an [address, reply] pair";
      out.push_back(std::move(p));
      continue;
    }
    p.address = pair.elements[0].str;
    const auto& reply = pair.elements[1];
    server_health health;
    if (reply.is_error())
      p.error = reply.str.empty() ? "no answer" : reply.str;
    else if (reply.kind != redis_link::reply_kind::string || !parse_info(reply.str, health))
      p.error = "INFO answered something that is not INFO";
    else
      p.server = std::move(health);
    out.push_back(std::move(p));
  }
  return out;
}

} // namespace baton::redis_health
