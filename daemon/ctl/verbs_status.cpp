// status, ping and info; see verbs.hpp.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>

#include "daemon/ctl/verbs.hpp"

namespace baton::ctl {
namespace {

std::map<std::string, std::string> parse_info(const std::string& text) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return fields;
}

/// INFO [SECTION] as text; false (printed) on an error reply.
bool info_text(const options& o, const std::string& section, std::string& out) {
  auto client = connect(o);
  std::vector<std::string> args{"INFO"};
  if (!section.empty()) args.push_back(section);
  json reply;
  if (!call(*client, args, o, reply)) return false;
  out = text(reply);
  return true;
}

int run_status(const options& o, const verb_args&) {
  std::string info;
  if (!info_text(o, "", info)) return exit_error;
  auto fields = parse_info(info);
  bool ready = fields["ready"] == "1";
  if (o.as_json) {
    json out = {{"ok", ready},
                {"ready", ready},
                {"node_id", fields["node_id"]},
                {"version", fields["baton_version"]},
                {"uptime_seconds", std::atoll(fields["uptime_in_seconds"].c_str())},
                {"connected_clients", std::atoll(fields["connected_clients"].c_str())},
                {"draining", fields["draining"] == "1"},
                {"redis",
                 {{"endpoint", fields["redis_endpoint"]},
                  {"reachable", fields["redis_reachable"] == "1"},
                  {"connections_ready", std::atoll(fields["redis_connections_ready"].c_str())},
                  {"breaker", fields["redis_breaker"]},
                  {"last_error", fields["redis_last_error"]}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "node      " << fields["node_id"] << " (batond " << fields["baton_version"]
              << ", up " << fields["uptime_in_seconds"] << " s, pid " << fields["process_id"]
              << ")\n"
              << "state     " << (ready ? "ready" : "NOT READY")
              << (fields["draining"] == "1" ? " (draining)" : "") << "\n"
              << "clients   " << fields["connected_clients"] << "\n"
              << "redis     " << fields["redis_endpoint"] << ": "
              << (fields["redis_reachable"] == "1" ? "reachable" : "UNREACHABLE") << ", "
              << fields["redis_connections_ready"] << "/" << fields["redis_connections"]
              << " connections, breaker " << fields["redis_breaker"] << "\n";
    if (fields["redis_last_error"] != "none")
      std::cout << "          last error: " << fields["redis_last_error"] << "\n";
  }
  return ready ? exit_ok : exit_error;
}

int run_info(const options& o, const verb_args& a) {
  std::string info;
  if (!info_text(o, a.positional.empty() ? "" : a.positional[0], info)) return exit_error;
  if (o.as_json)
    std::cout << json(parse_info(info)).dump(2) << "\n";
  else
    std::cout << info;
  return exit_ok;
}

// What the link and the health sampler say about Redis (INFO redis and redis_health).
// A Cluster's primaries, one row each, from INFO's primaryN:address=...,ok=...,... lines.
template <class Mib>
void print_primaries(std::map<std::string, std::string>& health, Mib mib) {
  auto count = std::atoi(health["primaries"].c_str());
  if (count <= 0) return;
  std::printf("%-28s %-4s %12s %12s %9s %9s %8s %8s %8s\n", "PRIMARY", "OK", "USED", "MAXMEMORY",
              "KEYS", "EVICTED", "HIT %", "CLIENTS", "OPS/S");
  for (int i = 0; i < count; ++i) {
    std::map<std::string, std::string> f;
    std::istringstream fields(health["primary" + std::to_string(i)]);
    std::string pair;
    while (std::getline(fields, pair, ',')) {
      auto eq = pair.find('=');
      if (eq != std::string::npos) f[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    if (f["ok"] != "1") {
      std::printf("%-28s %-4s %s\n", f["address"].c_str(), "no", f["error"].c_str());
      continue;
    }
    auto ratio = f["hit_ratio"] == "none" ? std::string("-")
                                          : std::to_string(std::atof(f["hit_ratio"].c_str()) * 100)
                                                .substr(0, 5);
    std::printf("%-28s %-4s %12s %12s %9s %9s %8s %8s %8s\n", f["address"].c_str(), "yes",
                mib(f["used_memory"]).c_str(),
                f["maxmemory"] == "0" ? "none" : mib(f["maxmemory"]).c_str(), f["keys"].c_str(),
                f["evicted_keys"].c_str(), ratio.c_str(), f["clients"].c_str(),
                f["ops_per_sec"].c_str());
  }
}

int run_redis(const options& o, const verb_args&) {
  std::string link_text, health_text;
  if (!info_text(o, "redis", link_text) || !info_text(o, "redis_health", health_text))
    return exit_error;
  auto link = parse_info(link_text);
  auto health = parse_info(health_text);
  bool reachable = link["redis_reachable"] == "1";
  if (o.as_json) {
    json out = {{"ok", reachable}, {"link", json(link)}, {"health", json(health)}};
    std::cout << out.dump(2) << "\n";
    return reachable ? exit_ok : exit_error;
  }
  auto mib = [](const std::string& bytes) {
    std::ostringstream s;
    s.precision(1);
    s << std::fixed << static_cast<double>(std::atoll(bytes.c_str())) / (1024.0 * 1024.0)
      << " MiB";
    return s.str();
  };
  std::cout << "redis       " << link["redis_endpoint"] << ": "
            << (reachable ? "reachable" : "UNREACHABLE") << ", "
            << link["redis_connections_ready"] << "/" << link["redis_connections"]
            << " connections, breaker " << link["redis_breaker"] << "\n";
  if (link["redis_last_error"] != "none")
    std::cout << "            last error: " << link["redis_last_error"] << "\n";
  auto sampling = health["health_sampling"];
  if (sampling != "ok") {
    std::cout << "health      " << (sampling == "failing" ? "cannot sample: " + health["health_error"]
                                                          : "not sampled (" + sampling + ")")
              << "\n";
    return reachable ? exit_ok : exit_error;
  }
  std::cout << "server      Redis " << health["server_version"] << ", " << health["server_role"]
            << ", up " << health["server_uptime_in_seconds"] << " s (sampled "
            << health["health_sample_age_ms"] << " ms ago)\n"
            << "memory      " << mib(health["server_used_memory"]) << " used, peak "
            << mib(health["server_used_memory_peak"]) << ", maxmemory "
            << (health["server_maxmemory"] == "0" ? std::string("none")
                                                  : mib(health["server_maxmemory"]) + " (" +
                                                        health["server_maxmemory_policy"] + ")")
            << ", " << health["server_evicted_keys"] << " evicted\n"
            << "keyspace    " << health["server_keys"] << " keys, hit ratio "
            << health["server_keyspace_hit_ratio"] << " (" << health["server_keyspace_hits"]
            << " hits, " << health["server_keyspace_misses"] << " misses), "
            << health["server_expired_keys"] << " expired\n"
            << "clients     " << health["server_connected_clients"] << " connected, "
            << health["server_blocked_clients"] << " blocked, " << health["server_ops_per_sec"]
            << " ops/s\n"
            << "replicas    " << health["server_connected_replicas"] << ", max lag "
            << health["server_max_replica_lag_bytes"] << " bytes"
            << (health.count("server_primary_link")
                    ? ", link to primary " + health["server_primary_link"]
                    : std::string())
            << "\n"
            << "slow log    " << health["server_slowlog_len"] << " entries; latency spikes "
            << health["server_latency_latest"] << "\n";
  print_primaries(health, mib);
  return reachable ? exit_ok : exit_error;
}

int run_ping(const options& o, const verb_args&) {
  auto client = connect(o);
  json reply;
  if (!call(*client, {"PING"}, o, reply)) return exit_error;
  std::cout << (o.as_json ? json{{"ok", true}, {"reply", reply}}.dump() : text(reply)) << "\n";
  return exit_ok;
}

} // namespace

std::vector<verb_spec> status_verbs() {
  return {
      {{"status"},
       "",
       "is batond up and ready? node, version, uptime, Redis link (exit 1: not ready)",
       0,
       0,
       {},
       false,
       run_status},
      {{"ping"}, "", "a round trip to batond", 0, 0, {}, false, run_ping},
      {{"redis"},
       "",
       "Redis as batond sees it: the link, and the server's memory, hit ratio, clients, "
       "replication, slow log and latency (exit 1: unreachable)",
       0,
       0,
       {},
       false,
       run_redis},
      {{"info"},
       "[SECTION]",
       "batond's INFO (server, clients, redis, stats, ...)",
       0,
       1,
       {},
       false,
       run_info},
  };
}

} // namespace baton::ctl
