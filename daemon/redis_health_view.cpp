// Showing a Redis health sample; see redis_health_view.hpp.
#include "daemon/redis_health_view.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "metrics/exposition.hpp"

namespace baton {
namespace {

using redis_health::health_sample;
using redis_health::server_health;

std::string ratio_text(double r) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4f", r);
  return buffer;
}

// A value in an INFO line "key:a=b,c=d": its separators and line ends become spaces (a
// host:port keeps its colon: readers split a line at its first colon only).
std::string info_value(const std::string& text) {
  std::string out;
  for (char c : text)
    out += (c == ',' || c == '=' || c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

// A Cluster's primaries, each by its own INFO: labelled {primary="host:port"}.
void render_primary_metrics(const health_sample& sample, metrics::exposition& e) {
  if (sample.primaries.empty()) return;
  auto label = [](const redis_health::primary_health& p) {
    return "{primary=\"" + metrics::escape_label(p.address) + "\"}";
  };
  e.declare("baton_redis_primary_up", "gauge",
            "A Cluster primary of the slot map: 1 when its last INFO answered.");
  for (const auto& p : sample.primaries)
    e.sample("baton_redis_primary_up" + label(p), p.server ? 1.0 : 0.0);
  struct figure {
    const char* name;
    const char* type;
    const char* help;
    std::int64_t server_health::*field;
  };
  static const figure figures[] = {
      {"baton_redis_primary_used_memory_bytes", "gauge", "Memory this primary has allocated.",
       &server_health::used_memory},
      {"baton_redis_primary_maxmemory_bytes", "gauge", "This primary's maxmemory; 0: no limit.",
       &server_health::maxmemory},
      {"baton_redis_primary_evicted_keys_total", "counter", "Keys this primary evicted.",
       &server_health::evicted_keys},
      {"baton_redis_primary_keyspace_hits_total", "counter", "Lookups of keys that existed.",
       &server_health::keyspace_hits},
      {"baton_redis_primary_keyspace_misses_total", "counter",
       "Lookups of keys that did not exist.", &server_health::keyspace_misses},
      {"baton_redis_primary_keys", "gauge", "Keys on this primary.", &server_health::keys},
      {"baton_redis_primary_connected_clients", "gauge", "Clients connected to this primary.",
       &server_health::connected_clients},
      {"baton_redis_primary_ops_per_second", "gauge", "This primary's instantaneous_ops_per_sec.",
       &server_health::ops_per_sec},
  };
  for (const auto& f : figures) {
    e.declare(f.name, f.type, f.help);
    for (const auto& p : sample.primaries)
      if (p.server) e.sample(f.name + label(p), static_cast<double>((*p.server).*f.field));
  }
  e.declare("baton_redis_primary_connected_replicas", "gauge", "Replicas this primary lists.");
  for (const auto& p : sample.primaries)
    if (p.server)
      e.sample("baton_redis_primary_connected_replicas" + label(p),
               static_cast<double>(p.server->replicas.size()));
}

} // namespace

void render_redis_health_metrics(const health_sample* sample, std::string& out) {
  if (sample == nullptr) return;
  metrics::exposition e(out);
  auto counter = [&](const char* name, const char* help, std::int64_t value) {
    e.declare(name, "counter", help);
    e.sample(name, static_cast<std::uint64_t>(value < 0 ? 0 : value));
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    e.declare(name, "gauge", help);
    e.sample(name, value);
  };
  counter("baton_redis_health_samples_total",
          "Samples of Redis' INFO, LATENCY LATEST and SLOWLOG LEN taken (redis.health_interval_ms).",
          static_cast<std::int64_t>(sample->samples));
  counter("baton_redis_health_sample_failures_total",
          "Samples that failed (Redis unreachable, or INFO refused); the server's figures are "
          "then absent.",
          static_cast<std::int64_t>(sample->failures));
  gauge("baton_redis_health_last_success_timestamp_seconds",
        "When a sample last succeeded, since the Unix epoch (0: never).",
        static_cast<double>(sample->last_good_unix_ms) / 1000.0);
  render_primary_metrics(*sample, e);
  if (!sample->server) return;
  const server_health& s = *sample->server;

  e.declare("baton_redis_server_info", "gauge",
            "The sampled Redis server: its version, role and maxmemory policy, as labels.");
  e.sample("baton_redis_server_info{version=\"" + metrics::escape_label(s.version) + "\",role=\"" +
               metrics::escape_label(s.role) + "\",maxmemory_policy=\"" +
               metrics::escape_label(s.maxmemory_policy) + "\"}",
           std::uint64_t{1});
  gauge("baton_redis_server_uptime_seconds", "Seconds since the sampled Redis server started.",
        static_cast<double>(s.uptime_s));
  gauge("baton_redis_server_used_memory_bytes", "Memory Redis has allocated (used_memory).",
        static_cast<double>(s.used_memory));
  gauge("baton_redis_server_used_memory_peak_bytes", "The most memory Redis has allocated.",
        static_cast<double>(s.used_memory_peak));
  gauge("baton_redis_server_maxmemory_bytes", "Redis' maxmemory; 0: no limit.",
        static_cast<double>(s.maxmemory));
  if (s.maxmemory > 0)
    gauge("baton_redis_server_memory_used_ratio", "used_memory / maxmemory (only with a limit).",
          static_cast<double>(s.used_memory) / static_cast<double>(s.maxmemory));
  counter("baton_redis_server_evicted_keys_total", "Keys Redis evicted for maxmemory.",
          s.evicted_keys);
  counter("baton_redis_server_expired_keys_total", "Keys Redis expired.", s.expired_keys);
  counter("baton_redis_server_keyspace_hits_total", "Lookups of keys that existed.",
          s.keyspace_hits);
  counter("baton_redis_server_keyspace_misses_total", "Lookups of keys that did not exist.",
          s.keyspace_misses);
  // Declared with every good sample, and sampled only when known: a dashboard's query finds
  // the metric even before the first lookup (or replica, or latency spike).
  e.declare("baton_redis_server_keyspace_hit_ratio", "gauge",
            "keyspace hits / (hits + misses) since the server started (absent before a lookup).");
  if (auto ratio = s.hit_ratio()) e.sample("baton_redis_server_keyspace_hit_ratio", *ratio);
  gauge("baton_redis_server_keys", "Keys in every database of the sampled server.",
        static_cast<double>(s.keys));
  gauge("baton_redis_server_connected_clients", "Clients connected to Redis (all of them).",
        static_cast<double>(s.connected_clients));
  gauge("baton_redis_server_blocked_clients", "Clients blocked in Redis (BLPOP, WAIT, ...).",
        static_cast<double>(s.blocked_clients));
  counter("baton_redis_server_rejected_connections_total",
          "Connections Redis refused (maxclients).", s.rejected_connections);
  gauge("baton_redis_server_ops_per_second", "Redis' own instantaneous_ops_per_sec.",
        static_cast<double>(s.ops_per_sec));
  gauge("baton_redis_server_is_primary", "1 when the sampled server is a primary.",
        s.role == "master" ? 1.0 : 0.0);
  gauge("baton_redis_server_connected_replicas", "Replicas the sampled primary lists.",
        static_cast<double>(s.replicas.size()));
  e.declare("baton_redis_server_replica_lag_bytes", "gauge",
            "How far each replica's replication offset is behind its primary's.");
  for (const auto& r : s.replicas)
    e.sample("baton_redis_server_replica_lag_bytes{replica=\"" + metrics::escape_label(r.address) +
                 "\"}",
             static_cast<double>(r.lag_bytes));
  if (s.primary_link_up)
    gauge("baton_redis_server_primary_link_up",
          "A replica server: 1 while its link to its primary is up.",
          *s.primary_link_up ? 1.0 : 0.0);
  if (s.slowlog_length >= 0)
    gauge("baton_redis_server_slowlog_length", "Entries in Redis' slow log (SLOWLOG LEN).",
          static_cast<double>(s.slowlog_length));
  e.declare("baton_redis_server_latency_latest_seconds", "gauge",
            "The latest spike of each event Redis' latency monitor recorded (LATENCY LATEST; "
            "none unless latency-monitor-threshold is set).");
  for (const auto& l : s.latency)
    e.sample("baton_redis_server_latency_latest_seconds{event=\"" + metrics::escape_label(l.event) +
                 "\"}",
             static_cast<double>(l.latest_ms) / 1000.0);
  e.declare("baton_redis_server_latency_max_seconds", "gauge",
            "The highest spike of each event Redis' latency monitor recorded.");
  for (const auto& l : s.latency)
    e.sample("baton_redis_server_latency_max_seconds{event=\"" + metrics::escape_label(l.event) +
                 "\"}",
             static_cast<double>(l.max_ms) / 1000.0);
}

std::string redis_health_info(const health_sample* sample, std::int64_t now_unix_ms) {
  std::string text;
  auto line = [&](const std::string& key, const std::string& value) {
    text += key + ":" + value + "\r\n";
  };
  if (sample == nullptr) {
    line("health_sampling", "off or not yet");
    return text;
  }
  line("health_sampling", sample->server ? "ok" : "failing");
  line("health_samples", std::to_string(sample->samples));
  line("health_sample_failures", std::to_string(sample->failures));
  line("health_sample_age_ms", std::to_string(now_unix_ms - sample->sampled_unix_ms));
  if (!sample->server) {
    line("health_error", sample->error);
    return text;
  }
  const auto& s = *sample->server;
  line("server_version", s.version);
  line("server_role", s.role);
  line("server_uptime_in_seconds", std::to_string(s.uptime_s));
  line("server_used_memory", std::to_string(s.used_memory));
  line("server_used_memory_peak", std::to_string(s.used_memory_peak));
  line("server_maxmemory", std::to_string(s.maxmemory));
  line("server_maxmemory_policy", s.maxmemory_policy);
  line("server_evicted_keys", std::to_string(s.evicted_keys));
  line("server_expired_keys", std::to_string(s.expired_keys));
  line("server_keyspace_hits", std::to_string(s.keyspace_hits));
  line("server_keyspace_misses", std::to_string(s.keyspace_misses));
  auto ratio = s.hit_ratio();
  line("server_keyspace_hit_ratio", ratio ? ratio_text(*ratio) : "none");
  line("server_keys", std::to_string(s.keys));
  line("server_connected_clients", std::to_string(s.connected_clients));
  line("server_blocked_clients", std::to_string(s.blocked_clients));
  line("server_ops_per_sec", std::to_string(s.ops_per_sec));
  line("server_connected_replicas", std::to_string(s.replicas.size()));
  line("server_max_replica_lag_bytes", std::to_string(s.max_replica_lag()));
  if (s.primary_link_up) line("server_primary_link", *s.primary_link_up ? "up" : "down");
  line("server_slowlog_len", s.slowlog_length >= 0 ? std::to_string(s.slowlog_length) : "unknown");
  std::string spikes;
  for (const auto& l : s.latency)
    spikes += (spikes.empty() ? "" : ",") + l.event + "=" + std::to_string(l.latest_ms) + "ms";
  line("server_latency_latest", spikes.empty() ? "none" : spikes);
  // A Cluster's primaries, one line each (as INFO's slaveN lines): primaryN:address=...,...
  if (!sample->primaries.empty()) line("primaries", std::to_string(sample->primaries.size()));
  for (std::size_t i = 0; i < sample->primaries.size(); ++i) {
    const auto& p = sample->primaries[i];
    std::string v = "address=" + info_value(p.address) + ",ok=" + (p.server ? "1" : "0");
    if (p.server) {
      const auto& h = *p.server;
      auto r = h.hit_ratio();
      v += ",used_memory=" + std::to_string(h.used_memory) +
           ",maxmemory=" + std::to_string(h.maxmemory) + ",keys=" + std::to_string(h.keys) +
           ",evicted_keys=" + std::to_string(h.evicted_keys) +
           ",hit_ratio=" + (r ? ratio_text(*r) : std::string("none")) +
           ",clients=" + std::to_string(h.connected_clients) +
           ",ops_per_sec=" + std::to_string(h.ops_per_sec) +
           ",replicas=" + std::to_string(h.replicas.size());
    } else {
      v += ",error=" + info_value(p.error);
    }
    line("primary" + std::to_string(i), v);
  }
  return text;
}

nlohmann::json redis_health_json(const health_sample* sample, std::int64_t now_unix_ms) {
  if (sample == nullptr) return nullptr;
  nlohmann::json out = {{"ok", sample->server.has_value()},
                        {"age_ms", now_unix_ms - sample->sampled_unix_ms},
                        {"samples", sample->samples},
                        {"failures", sample->failures},
                        {"error", sample->error}};
  if (!sample->server) return out;
  const auto& s = *sample->server;
  auto ratio = s.hit_ratio();
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& r : s.replicas)
    replicas.push_back({{"address", r.address}, {"state", r.state}, {"lag_bytes", r.lag_bytes}});
  nlohmann::json latency = nlohmann::json::array();
  for (const auto& l : s.latency)
    latency.push_back({{"event", l.event}, {"latest_ms", l.latest_ms}, {"max_ms", l.max_ms}});
  out["server"] = {{"version", s.version},
                   {"role", s.role},
                   {"uptime_s", s.uptime_s},
                   {"used_memory", s.used_memory},
                   {"used_memory_peak", s.used_memory_peak},
                   {"maxmemory", s.maxmemory},
                   {"maxmemory_policy", s.maxmemory_policy},
                   {"evicted_keys", s.evicted_keys},
                   {"keyspace_hits", s.keyspace_hits},
                   {"keyspace_misses", s.keyspace_misses},
                   {"hit_ratio", ratio ? nlohmann::json(*ratio) : nlohmann::json(nullptr)},
                   {"keys", s.keys},
                   {"connected_clients", s.connected_clients},
                   {"ops_per_sec", s.ops_per_sec},
                   {"replicas", std::move(replicas)},
                   {"slowlog_length", s.slowlog_length},
                   {"latency", std::move(latency)}};
  if (s.primary_link_up) out["server"]["primary_link_up"] = *s.primary_link_up;
  if (!sample->primaries.empty()) {
    nlohmann::json primaries = nlohmann::json::array();
    for (const auto& p : sample->primaries) {
      nlohmann::json one = {{"address", p.address}, {"ok", p.server.has_value()}};
      if (p.server) {
        auto r = p.server->hit_ratio();
        one.update({{"used_memory", p.server->used_memory},
                    {"maxmemory", p.server->maxmemory},
                    {"keys", p.server->keys},
                    {"evicted_keys", p.server->evicted_keys},
                    {"hit_ratio", r ? nlohmann::json(*r) : nlohmann::json(nullptr)},
                    {"connected_clients", p.server->connected_clients},
                    {"ops_per_sec", p.server->ops_per_sec},
                    {"replicas", p.server->replicas.size()}});
      } else {
        one["error"] = p.error;
      }
      primaries.push_back(std::move(one));
    }
    out["primaries"] = std::move(primaries);
  }
  return out;
}

} // namespace baton
