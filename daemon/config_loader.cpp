// YAML config loading and validation; see config_loader.hpp. The schema is the code below:
// one read_* call per key, each with its bounds; deploy/baton.example.yaml mirrors it and a
// test loads that file to keep the two in step.
#include "daemon/config_loader.hpp"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "daemon/config_breakers.hpp"
#include "daemon/config_checker.hpp"
#include "daemon/config_secrets.hpp"
#include "daemon/config_cache.hpp"
#include "daemon/config_events.hpp"
#include "daemon/config_state.hpp"
#include "redis/redis_endpoint.hpp"

namespace baton {
namespace {

void read_socket(checker& c, const YAML::Node& node, socket_config& s) {
  if (!c.expect_map(node, "socket",
                    {"path", "mode", "group", "max_clients", "max_request_bytes", "max_arguments",
                     "max_pipeline", "max_clients_per_uid", "request_timeout_ms", "idle_timeout_ms",
                     "max_buffered_bytes", "max_watches_per_uid"}))
    return;
  c.read_string(node, "path", s.path, true);
  if (auto mode = node["mode"]) {
    // Octal as written by humans: "0660" or 0660 (YAML 1.2 reads 0660 as decimal 660).
    std::string text = checker::text_of(mode);
    char* end = nullptr;
    long value = std::strtol(text.c_str(), &end, 8);
    if (text.empty() || *end != '\0' || value < 0 || value > 0777)
      c.problem(mode.Mark(), "mode must be octal permissions such as \"0660\", got '" + text + "'");
    else
      s.mode = static_cast<mode_t>(value);
  }
  c.read_string(node, "group", s.group);
  if (!s.group.empty()) {
    gid_t gid = 0;
    if (!resolve_group(s.group, gid))
      c.problem(node["group"].Mark(), "group '" + s.group + "' does not exist on this host");
  }
  c.read_size(node, "max_clients", 1, 1000000, s.max_clients);
  c.read_size(node, "max_request_bytes", 1024, 512LL << 20, s.max_request_bytes);
  c.read_size(node, "max_arguments", 3, 1 << 20, s.max_arguments);
  c.read_size(node, "max_pipeline", 1, 1 << 20, s.max_pipeline);
  c.read_size(node, "max_clients_per_uid", 1, 1000000, s.max_clients_per_uid);
  c.read_ms(node, "request_timeout_ms", 100, 3600 * 1000, s.request_timeout);
  c.read_ms(node, "idle_timeout_ms", 0, 30LL * 24 * 3600 * 1000, s.idle_timeout);
  c.read_size(node, "max_buffered_bytes", 64 << 10, 64LL << 30, s.max_buffered_bytes);
  c.read_size(node, "max_watches_per_uid", 1, 100000000, s.max_watches_per_uid);
}

void read_http(checker& c, const YAML::Node& node, http_config& h) {
  if (!c.expect_map(node, "http", {"enabled", "listen", "max_connections", "ui"})) return;
  c.read_bool(node, "enabled", h.enabled);
  c.read_bool(node, "ui", h.ui);
  c.read_size(node, "max_connections", 1, 100000, h.max_connections);
  c.read_string(node, "listen", h.listen, true);
  std::string host;
  unsigned short port = 0;
  if (node["listen"] && !parse_listen_address(h.listen, host, port)) {
    c.problem(node["listen"].Mark(),
              "listen must be host:port, e.g. 127.0.0.1:9464, got '" + h.listen + "'");
    h.listen = http_config{}.listen; // reported here with its position; not again by validate
  }
}

void read_redis(checker& c, const YAML::Node& node, redis_config& r) {
  if (!c.expect_map(node, "redis",
                    {"url", "username", "password", "password_file", "database", "connections",
                     "call_timeout_ms", "connect_timeout_ms", "dead_connection_ms",
                     "reconnect_min_ms", "reconnect_max_ms", "breaker_failures",
                     "breaker_cooldown_ms", "tls", "sentinel_username", "sentinel_password",
                     "sentinel_password_file", "sentinel_refresh_ms", "sentinel_failover_hold_ms",
                     "cluster_refresh_ms", "wait_replicas", "wait_timeout_ms", "wait_short",
                     "health_interval_ms"}))
    return;
  c.read_string(node, "url", r.url, true);
  if (auto url = node["url"]) {
    std::string error;
    if (url.IsScalar() && !redis_link::valid_redis_url(r.url, error)) {
      c.problem(url.Mark(), "url: " + error);
      r.url = redis_config{}.url; // reported here with its position; not again by validate
    }
  }
  c.read_string(node, "username", r.username);
  c.read_string(node, "password", r.password);
  c.read_string(node, "password_file", r.password_file);
  if (node["password"] && node["password_file"])
    c.problem(node["password_file"].Mark(), "set password or password_file, not both");
  long long db = 0;
  if (c.read_int(node, "database", 0, 1 << 20, db)) r.database = static_cast<int>(db);
  c.read_size(node, "connections", 1, 64, r.connections);
  c.read_ms(node, "call_timeout_ms", 1, 60000, r.call_timeout);
  c.read_ms(node, "connect_timeout_ms", 1, 60000, r.connect_timeout);
  c.read_ms(node, "dead_connection_ms", 10, 600000, r.dead_connection);
  c.read_ms(node, "reconnect_min_ms", 1, 60000, r.reconnect_min);
  c.read_ms(node, "reconnect_max_ms", 1, 600000, r.reconnect_max);
  c.read_size(node, "breaker_failures", 1, 1000000, r.breaker_failures);
  c.read_ms(node, "breaker_cooldown_ms", 1, 600000, r.breaker_cooldown);
  if (r.reconnect_min > r.reconnect_max)
    c.problem(node.Mark(), "reconnect_min_ms must not exceed reconnect_max_ms");
  c.read_string(node, "sentinel_username", r.sentinel_username);
  c.read_string(node, "sentinel_password", r.sentinel_password);
  c.read_string(node, "sentinel_password_file", r.sentinel_password_file);
  if (node["sentinel_password"] && node["sentinel_password_file"])
    c.problem(node["sentinel_password_file"].Mark(),
              "set sentinel_password or sentinel_password_file, not both");
  c.read_ms(node, "sentinel_refresh_ms", 100, 600000, r.sentinel_refresh);
  c.read_ms(node, "sentinel_failover_hold_ms", 0, 600000, r.sentinel_failover_hold);
  c.read_ms(node, "cluster_refresh_ms", 100, 600000, r.cluster_refresh);
  c.read_ms(node, "health_interval_ms", 0, 3600000, r.health_interval);
  if (r.health_interval.count() > 0 && r.health_interval.count() < 100)
    c.problem(node["health_interval_ms"].Mark(),
              "health_interval_ms must be 0 (off) or at least 100");
  c.read_size(node, "wait_replicas", 0, 100, r.wait_replicas);
  c.read_ms(node, "wait_timeout_ms", 1, 60000, r.wait_timeout);
  if (auto mode = node["wait_short"]) {
    auto text = checker::text_of(mode);
    if (text == "fail" || text == "accept")
      r.wait_required = text == "fail";
    else
      c.problem(mode.Mark(), "wait_short must be fail or accept, got '" + text + "'");
  }
  if (r.wait_replicas > 0 && r.wait_timeout >= r.call_timeout)
    c.problem(node.Mark(), "wait_timeout_ms must be below call_timeout_ms: the calls pipelined "
                           "behind a durable write wait for its WAIT");
  bool sentinel_keys = node["sentinel_username"] || node["sentinel_password"] ||
                       node["sentinel_password_file"] || node["sentinel_refresh_ms"] ||
                       node["sentinel_failover_hold_ms"];
  if (sentinel_keys && !redis_link::is_sentinel_url(r.url))
    c.problem(node.Mark(), "sentinel_* keys need a redis-sentinel:// url");
  if (node["cluster_refresh_ms"] && !redis_link::is_cluster_url(r.url))
    c.problem(node.Mark(), "cluster_refresh_ms needs a redis-cluster:// url");
  if (redis_link::is_cluster_url(r.url) && r.database > 0)
    c.problem(node["database"].Mark(), "database: Redis Cluster has database 0 only");
  if (auto tls = node["tls"]) {
    if (c.expect_map(tls, "redis.tls",
                     {"ca_file", "cert_file", "key_file", "server_name", "verify"})) {
      c.read_string(tls, "ca_file", r.tls_ca_file);
      c.read_string(tls, "cert_file", r.tls_cert_file);
      c.read_string(tls, "key_file", r.tls_key_file);
      c.read_string(tls, "server_name", r.tls_server_name);
      c.read_bool(tls, "verify", r.tls_verify);
      for (const char* key : {"ca_file", "cert_file", "key_file"}) {
        std::string path = checker::text_of(tls[key]);
        if (tls[key] && !path.empty() && ::access(path.c_str(), R_OK) != 0)
          c.problem(tls[key].Mark(), std::string(key) + " '" + path + "' cannot be read");
      }
    }
  }
}

void read_log(checker& c, const YAML::Node& node, log_config& l) {
  if (!c.expect_map(node, "log", {"level", "format"})) return;
  if (auto level = node["level"]) {
    if (!log::parse_level(checker::text_of(level), l.level))
      c.problem(level.Mark(), "level must be debug, info, warning or error, got '" +
                                  checker::text_of(level) + "'");
  }
  if (auto format = node["format"]) {
    auto text = checker::text_of(format);
    if (text == "text")
      l.format = log::format::text;
    else if (text == "json")
      l.format = log::format::json;
    else
      c.problem(format.Mark(), "format must be text or json, got '" + text + "'");
  }
}

void read_access(checker& c, const YAML::Node& node, access_config& a) {
  if (!c.expect_map(node, "access", {"default", "admin_groups", "rules"})) return;
  if (auto def = node["default"]) {
    auto text = checker::text_of(def);
    if (text == "allow" || text == "deny")
      a.default_allow = text == "allow";
    else
      c.problem(def.Mark(), "default must be allow or deny, got '" + text + "'");
  }
  auto admin_groups = c.read_string_list(node, "admin_groups");
  for (std::size_t i = 0; i < admin_groups.size(); ++i) {
    gid_t gid = 0;
    if (resolve_group(admin_groups[i], gid))
      a.admin_gids.push_back(gid);
    else
      c.problem(node["admin_groups"][i].Mark(),
                "group '" + admin_groups[i] + "' does not exist on this host");
  }
  auto rules = node["rules"];
  if (!rules) return;
  if (!rules.IsSequence()) {
    c.problem(rules.Mark(), "rules must be a list");
    return;
  }
  for (const auto& item : rules) {
    if (!c.expect_map(item, "access rule", {"users", "uids", "groups", "allow", "names"})) continue;
    access_rule rule;
    read_callers(c, item, rule.uids, rule.gids);
    for (auto& f : c.read_string_list(item, "allow")) {
      for (auto& ch : f)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      rule.families.push_back(f);
    }
    rule.names = c.read_string_list(item, "names");
    for (std::size_t i = 0; i < rule.names.size(); ++i) {
      const auto& pattern = rule.names[i];
      auto star = pattern.find('*');
      if (pattern.empty() || pattern == "*" ||
          (star != std::string::npos && star + 1 != pattern.size()))
        c.problem(item["names"][i].Mark(),
                  "a name is exact or a prefix ending in '*' (\"billing/*\"), got '" + pattern +
                      "'; leave names out to grant every name");
    }
    if (item["names"] && rule.names.empty())
      c.problem(item["names"].Mark(), "names is empty: leave it out to grant every name");
    if (rule.uids.empty() && rule.gids.empty())
      c.problem(item.Mark(), "an access rule needs users, uids or groups");
    if (!item["allow"])
      c.problem(item.Mark(), "an access rule needs an allow list (families, or \"*\")");
    a.rules.push_back(std::move(rule));
  }
}

void read_leases(checker& c, const YAML::Node& node, leases_config& l) {
  if (!c.expect_map(node, "leases",
                    {"lock_delay_ms", "max_name_length", "min_ttl_ms", "max_ttl_ms"}))
    return;
  c.read_ms(node, "lock_delay_ms", 0, 3600000, l.lock_delay);
  c.read_size(node, "max_name_length", 1, 4096, l.max_name_length);
  c.read_ms(node, "min_ttl_ms", 1, 3600000, l.min_ttl);
  c.read_ms(node, "max_ttl_ms", 1, 30LL * 24 * 3600 * 1000, l.max_ttl);
  if (l.min_ttl > l.max_ttl) c.problem(node.Mark(), "min_ttl_ms must not exceed max_ttl_ms");
}

void read_rate_windows(checker& c, const YAML::Node& node, rate_policy& p) {
  if (!node.IsSequence() || node.size() == 0) {
    c.problem(node.Mark(),
              "windows of policy '" + p.name + "' must be a non-empty list of {window_ms, limit}");
    return;
  }
  for (const auto& item : node) {
    if (!c.expect_map(item, "a window", {"window_ms", "limit"})) continue;
    rate_window w;
    long long value = 0;
    // A window of up to 31 days, a limit of up to a billion: beyond either the arithmetic of
    // the scripts (microseconds in Lua's doubles) loses exactness.
    if (!item["window_ms"] || !item["limit"]) {
      c.problem(item.Mark(), "a window needs window_ms and limit");
      continue;
    }
    if (c.read_int(item, "window_ms", 1, 31LL * 24 * 3600 * 1000, value))
      w.window = milliseconds(value);
    if (c.read_int(item, "limit", 1, 1000000000, value)) w.limit = value;
    for (const auto& other : p.windows)
      if (other.window == w.window && w.window.count() > 0)
        c.problem(item.Mark(), "policy '" + p.name + "' has two windows of " +
                                   std::to_string(w.window.count()) + " ms");
    p.windows.push_back(w);
  }
}

void read_rate(checker& c, const YAML::Node& node, rate_config& r) {
  if (!c.expect_map(node, "rate", {"max_key_length", "budget_ms", "policies"})) return;
  c.read_size(node, "max_key_length", 1, 4096, r.max_key_length);
  c.read_ms(node, "budget_ms", 1, 60000, r.budget);
  auto policies = node["policies"];
  if (!policies) return;
  if (!policies.IsSequence()) {
    c.problem(policies.Mark(), "rate.policies must be a list");
    return;
  }
  static const std::set<std::string> algorithms = {"gcra", "sliding_window", "sliding_log",
                                                   "fixed_window"};
  static const std::set<std::string> modes = {"open", "closed", "local"};
  for (const auto& item : policies) {
    if (!c.expect_map(item, "a rate policy",
                      {"name", "algorithm", "windows", "failure_mode", "local_share", "shadow"}))
      continue;
    rate_policy p;
    c.read_string(item, "name", p.name, true);
    if (!item["name"]) {
      c.problem(item.Mark(), "a rate policy needs a name");
    } else if (!is_plain_name(p.name)) {
      c.problem(item["name"].Mark(),
                "policy name '" + p.name + "' must be 1 to 64 letters, digits, '-', '_' or '.'");
    }
    for (const auto& other : r.policies)
      if (!p.name.empty() && other.name == p.name)
        c.problem(item["name"].Mark(), "duplicate rate policy '" + p.name + "'");
    c.read_string(item, "algorithm", p.algorithm);
    if (algorithms.count(p.algorithm) == 0)
      c.problem(item["algorithm"].Mark(),
                "unknown algorithm '" + p.algorithm +
                    "' (known: gcra, sliding_window, sliding_log, fixed_window)");
    if (auto windows = item["windows"])
      read_rate_windows(c, windows, p);
    else
      c.problem(item.Mark(), "policy '" + p.name + "' needs windows");
    c.read_string(item, "failure_mode", p.failure_mode);
    if (modes.count(p.failure_mode) == 0)
      c.problem(item["failure_mode"].Mark(),
                "failure_mode must be open, closed or local, got '" + p.failure_mode + "'");
    long long share = 0;
    if (c.read_int(item, "local_share", 0, 1000000000, share)) p.local_share = share;
    c.read_bool(item, "shadow", p.shadow);
    if (p.algorithm == "sliding_log")
      for (const auto& w : p.windows)
        if (w.limit > 100000)
          c.problem(item.Mark(), "sliding_log keeps one entry per request: limit at most 100000");
    r.policies.push_back(std::move(p));
  }
}

void read_dedup(checker& c, const YAML::Node& node, dedup_config& d) {
  if (!c.expect_map(node, "dedup",
                    {"max_key_length", "max_result_bytes", "max_ttl_ms", "result_ttl_ms"}))
    return;
  c.read_size(node, "max_key_length", 1, 4096, d.max_key_length);
  c.read_size(node, "max_result_bytes", 0, 16LL << 20, d.max_result_bytes);
  c.read_ms(node, "max_ttl_ms", 10, 365LL * 24 * 3600 * 1000, d.max_ttl);
  c.read_ms(node, "result_ttl_ms", 10, 365LL * 24 * 3600 * 1000, d.result_ttl);
  if (d.result_ttl > d.max_ttl)
    c.problem(node.Mark(), "dedup.result_ttl_ms must not exceed dedup.max_ttl_ms");
}

void read_membership(checker& c, const YAML::Node& node, membership_config& m) {
  if (!c.expect_map(node, "membership", {"address", "heartbeat_ms", "ttl_ms"})) return;
  c.read_string(node, "address", m.address, true);
  c.read_ms(node, "heartbeat_ms", 50, 60000, m.heartbeat);
  c.read_ms(node, "ttl_ms", 200, 600000, m.ttl);
  if (m.ttl < m.heartbeat * 2)
    c.problem(node.Mark(), "membership.ttl_ms must be at least twice heartbeat_ms, or one late "
                           "heartbeat drops a live node");
}

void read_sessions(checker& c, const YAML::Node& node, sessions_config& s) {
  if (!c.expect_map(node, "sessions",
                    {"default_ttl_ms", "max_ttl_ms", "max_state_bytes", "max_meta_bytes",
                     "max_user_length", "handoff_deadline_ms", "drain_delay_ms", "handoff_strategy",
                     "max_per_user", "max_per_node"}))
    return;
  c.read_ms(node, "default_ttl_ms", 1000, 365LL * 24 * 3600 * 1000, s.default_ttl);
  c.read_ms(node, "max_ttl_ms", 1000, 365LL * 24 * 3600 * 1000, s.max_ttl);
  c.read_size(node, "max_state_bytes", 0, 16 << 20, s.max_state_bytes);
  c.read_size(node, "max_meta_bytes", 0, 1 << 20, s.max_meta_bytes);
  c.read_size(node, "max_user_length", 1, 4096, s.max_user_length);
  c.read_ms(node, "handoff_deadline_ms", 10, 3600 * 1000, s.handoff_deadline);
  c.read_ms(node, "drain_delay_ms", 0, 600 * 1000, s.drain_delay);
  c.read_string(node, "handoff_strategy", s.handoff_strategy);
  c.read_size(node, "max_per_user", 1, 100000000, s.max_per_user);
  c.read_size(node, "max_per_node", 1, 100000000, s.max_per_node);
  if (s.handoff_strategy != "least_sessions" && s.handoff_strategy != "round_robin")
    c.problem(node["handoff_strategy"].Mark(),
              "handoff_strategy must be least_sessions or round_robin, got '" + s.handoff_strategy +
                  "'");
  if (s.default_ttl > s.max_ttl)
    c.problem(node.Mark(), "sessions.default_ttl_ms must not exceed sessions.max_ttl_ms");
}

void read_runtime(checker& c, const YAML::Node& node, runtime_config& r) {
  if (!c.expect_map(node, "runtime",
                    {"worker_threads", "scheduler", "drift_margin_ms", "drift_fraction"}))
    return;
  c.read_size(node, "worker_threads", 1, 64, r.worker_threads);
  if (auto s = node["scheduler"]) {
    auto text = checker::text_of(s);
    if (text != "sharing" && text != "stealing")
      c.problem(s.Mark(), "scheduler must be sharing or stealing, got '" + text + "'");
    else
      r.scheduler = text;
  }
  c.read_ms(node, "drift_margin_ms", 0, 60000, r.drift_margin);
  c.read_number(node, "drift_fraction", r.drift_fraction, 0.0, 0.5);
}

config_result load_yaml(const std::string& text, const std::string& name) {
  config_result result;
  result.cfg.source = name;
  checker c(name, result.problems);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    c.problem(e.mark, e.msg);
    return result;
  }
  if (root.IsNull()) return result; // an empty file: all defaults
  if (!c.expect_map(root, "the top level",
                    {"node_id", "prefix", "state_dir", "socket", "http", "redis", "log", "access",
                     "leases", "rate", "dedup", "secrets", "breakers", "membership", "sessions",
                     "state", "cache", "events", "runtime"}))
    return result;
  auto& cfg = result.cfg;
  try {
    c.read_string(root, "node_id", cfg.node_id, true);
    c.read_string(root, "prefix", cfg.prefix, true);
    c.read_string(root, "state_dir", cfg.state_dir, false);
    if (auto n = root["socket"]) read_socket(c, n, cfg.socket);
    if (auto n = root["http"]) read_http(c, n, cfg.http);
    if (auto n = root["redis"]) read_redis(c, n, cfg.redis);
    if (auto n = root["log"]) read_log(c, n, cfg.log);
    if (auto n = root["access"]) read_access(c, n, cfg.access);
    if (auto n = root["leases"]) read_leases(c, n, cfg.leases);
    if (auto n = root["rate"]) read_rate(c, n, cfg.rate);
    if (auto n = root["dedup"]) read_dedup(c, n, cfg.dedup);
    if (auto n = root["secrets"]) read_secrets(c, n, cfg.secrets);
    if (auto n = root["breakers"]) read_breakers(c, n, cfg.breakers);
    if (auto n = root["membership"]) read_membership(c, n, cfg.membership);
    if (auto n = root["sessions"]) read_sessions(c, n, cfg.sessions);
    if (auto n = root["state"])
      read_state(c, n, cfg.state, cfg.prefix, cfg.secrets.enabled()); // after prefix, secrets
    if (auto n = root["cache"]) read_cache(c, n, cfg.cache);
    if (auto n = root["events"]) read_events(c, n, cfg.events);
    if (auto n = root["runtime"]) read_runtime(c, n, cfg.runtime);
  } catch (const YAML::Exception& e) {
    c.problem(e.mark, e.msg);
  }
  return result;
}

} // namespace

bool parse_listen_address(const std::string& text, std::string& host, unsigned short& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto value = std::stoul(port_text);
  if (value > 65535) return false;
  port = static_cast<unsigned short>(value);
  return true;
}

config_result load_config_text(const std::string& text, const std::string& name) {
  auto result = load_yaml(text, name);
  validate_config(result.cfg, result.problems);
  return result;
}

config_result load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    config_result result;
    result.problems.push_back(path + ": cannot open config file: " + std::strerror(errno));
    return result;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return load_config_text(buffer.str(), path);
}

void validate_config(config& cfg, std::vector<std::string>& problems) {
  if (cfg.node_id.empty()) cfg.node_id = default_node_id();
  for (char ch : cfg.node_id)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      problems.push_back(cfg.source + ": node_id '" + cfg.node_id +
                         "' may contain only letters, digits, '-', '_' and '.'");
      break;
    }
  if (!cfg.state_dir.empty() && cfg.state_dir.front() != '/')
    problems.push_back(cfg.source +
                       ": state_dir must be an absolute path (or empty: keep nothing)");
  if (cfg.prefix.find_first_of("{} \r\n") != std::string::npos)
    problems.push_back(cfg.source + ": prefix must not contain braces or whitespace");
  std::string error;
  if (!redis_link::valid_redis_url(cfg.redis.url, error))
    problems.push_back(cfg.source + ": redis url: " + error);
  std::string host;
  unsigned short port = 0;
  if (cfg.http.enabled && !parse_listen_address(cfg.http.listen, host, port))
    problems.push_back(cfg.source + ": http listen must be host:port, got '" + cfg.http.listen +
                       "'");
  // A password kept in a file (first line, trailing CR and spaces dropped), for Redis and
  // for its sentinels alike.
  auto read_password = [&](const char* key, const std::string& file, std::string& password) {
    if (file.empty()) return;
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      problems.push_back(cfg.source + ": redis " + key + " '" + file +
                         "' cannot be read: " + std::strerror(errno ? errno : EIO));
      return;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    password = line;
  };
  read_password("password_file", cfg.redis.password_file, cfg.redis.password);
  read_password("sentinel_password_file", cfg.redis.sentinel_password_file,
                cfg.redis.sentinel_password);
}

std::string default_node_id() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "baton-node";
  return name;
}

bool make_link_settings(const config& cfg, redis_link::link_settings& out, std::string& error) {
  std::optional<redis_link::redis_endpoint> endpoint;
  if (redis_link::is_sentinel_url(cfg.redis.url)) {
    auto group = redis_link::parse_sentinel_url(cfg.redis.url, error);
    if (!group) return false;
    endpoint = group->data; // its host and port come from the sentinels
    out.sentinels = group->sentinels;
    out.master_name = group->master_name;
    out.sentinel_username = cfg.redis.sentinel_username;
    out.sentinel_password = cfg.redis.sentinel_password;
    out.sentinel_refresh = cfg.redis.sentinel_refresh;
    out.sentinel_failover_hold = cfg.redis.sentinel_failover_hold;
    out.verify_master = true;
  } else if (redis_link::is_cluster_url(cfg.redis.url)) {
    auto cluster = redis_link::parse_cluster_url(cfg.redis.url, error);
    if (!cluster) return false;
    endpoint = cluster->data; // each node's host and port come from the slot map
    out.cluster_seeds = cluster->seeds;
    out.cluster_refresh = cfg.redis.cluster_refresh;
    if (cfg.redis.database > 0) {
      error = "redis.database: Redis Cluster has database 0 only";
      return false;
    }
  } else {
    endpoint = redis_link::parse_redis_url(cfg.redis.url, error);
  }
  if (!endpoint) return false;
  if (!cfg.redis.username.empty()) endpoint->username = cfg.redis.username;
  if (!cfg.redis.password.empty()) endpoint->password = cfg.redis.password;
  if (cfg.redis.database >= 0) endpoint->database = cfg.redis.database;
  out.endpoint = *endpoint;
  out.tls.ca_file = cfg.redis.tls_ca_file;
  out.tls.cert_file = cfg.redis.tls_cert_file;
  out.tls.key_file = cfg.redis.tls_key_file;
  out.tls.server_name = cfg.redis.tls_server_name;
  out.tls.verify_peer = cfg.redis.tls_verify;
  out.client_name = "baton:" + cfg.node_id;
  out.connections = cfg.redis.connections;
  out.call_timeout = cfg.redis.call_timeout;
  out.connect_timeout = cfg.redis.connect_timeout;
  out.dead_connection = cfg.redis.dead_connection;
  out.reconnect_min = cfg.redis.reconnect_min;
  out.reconnect_max = cfg.redis.reconnect_max;
  out.breaker_failures = cfg.redis.breaker_failures;
  out.breaker_cooldown = cfg.redis.breaker_cooldown;
  out.wait_replicas = cfg.redis.wait_replicas;
  out.wait_timeout = cfg.redis.wait_timeout;
  out.wait_required = cfg.redis.wait_required;
  return true;
}

} // namespace baton
