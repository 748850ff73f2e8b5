// Config loading: defaults, every kind of problem reported with file:line:column, all at
// once, and deploy/baton.example.yaml valid and complete.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "daemon/config_loader.hpp"
#include "model/lease/drift.hpp"
#include "tests/support/config_problems.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;

using baton::test::dump;
using baton::test::has_problem;

TEST_CASE("an empty config gives safe defaults") {
  auto r = load_config_text("", "empty.yaml");
  REQUIRE(r.ok());
  CHECK(r.cfg.redis.url == "redis://127.0.0.1:6379");
  CHECK(r.cfg.http.listen == "127.0.0.1:9464");
  CHECK(r.cfg.socket.mode == 0660);
  CHECK(r.cfg.node_id == default_node_id());
  CHECK(r.cfg.prefix == "baton");
}

TEST_CASE("values are read and typed") {
  auto r = load_config_text(R"(
node_id: web-1
prefix: app
socket: {path: /tmp/x.sock, mode: "0600", max_pipeline: 64}
redis: {url: "unix:///tmp/r.sock?db=2", call_timeout_ms: 100, connections: 3}
log: {level: debug, format: json}
)",
                            "ok.yaml");
  REQUIRE(r.ok());
  CHECK(r.cfg.node_id == "web-1");
  CHECK(r.cfg.socket.mode == 0600);
  CHECK(r.cfg.socket.max_pipeline == 64);
  CHECK(r.cfg.redis.call_timeout.count() == 100);
  CHECK(r.cfg.redis.connections == 3);
  CHECK(r.cfg.log.format == log::format::json);
}

TEST_CASE("every problem is reported with file:line:column") {
  auto r = load_config_text("redis:\n  url: http://x\n  conections: 2\n  call_timeout_ms: fast\n"
                            "socket:\n  mode: 999\nlog:\n  level: loud\n",
                            "bad.yaml");
  REQUIRE(r.problems.size() == 5);
  CHECK(has_problem(r, "bad.yaml:2:8: url: Redis URL must start with"));
  CHECK(has_problem(r, "bad.yaml:3:3: unknown key 'conections' in redis"));
  CHECK(has_problem(r, "bad.yaml:4:20: call_timeout_ms must be an integer, got 'fast'"));
  CHECK(has_problem(r, "bad.yaml:6:9: mode must be octal"));
  CHECK(has_problem(r, "bad.yaml:8:10: level must be debug, info, warning or error"));
}

TEST_CASE("bounds and types are checked") {
  CHECK(has_problem(load_config_text("redis: {connections: 0}", "f"), "between 1 and 64"));
  CHECK(has_problem(load_config_text("redis: {call_timeout_ms: -5}", "f"), "between 1 and"));
  CHECK(has_problem(load_config_text("redis: [1, 2]", "f"), "redis must be a map"));
  CHECK(has_problem(load_config_text("http: {listen: nowhere}", "f"), "listen must be host:port"));
  CHECK(has_problem(load_config_text("http: {enabled: maybe}", "f"), "true or false"));
  CHECK(has_problem(load_config_text("node_id: 'a b'", "f"), "node_id 'a b' may contain only"));
  CHECK(has_problem(load_config_text("socket: {group: no-such-group-here}", "f"),
                    "group 'no-such-group-here' does not exist"));
  CHECK(has_problem(load_config_text("access: {rules: [{allow: ['*']}]}", "f"),
                    "needs users, uids or groups"));
  CHECK(has_problem(load_config_text("typo_key: 1", "f"), "unknown key 'typo_key'"));
  CHECK(has_problem(
      load_config_text("access: {rules: [{uids: [5], allow: [lease], names: ['a*b']}]}", "f"),
      "a name is exact or a prefix ending in '*'"));
  CHECK(has_problem(
      load_config_text("access: {rules: [{uids: [5], allow: [lease], names: ['*']}]}", "f"),
      "leave names out to grant every name"));
  CHECK(has_problem(
      load_config_text("access: {rules: [{uids: [5], allow: [lease], names: []}]}", "f"),
      "names is empty"));
}

TEST_CASE("access rules can grant families for name prefixes") {
  auto r = load_config_text(
      "access: {default: deny, rules: [{uids: [5], allow: [lease, rate], names: ['billing/*', "
      "shared]}]}",
      "f");
  REQUIRE(r.problems.empty());
  REQUIRE(r.cfg.access.rules.size() == 1);
  CHECK(r.cfg.access.rules[0].names == std::vector<std::string>{"billing/*", "shared"});
  CHECK_FALSE(r.cfg.access.default_allow);
}

TEST_CASE("broken YAML is one clear line") {
  auto r = load_config_text("redis: {url: [\n", "broken.yaml");
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].rfind("broken.yaml:", 0) == 0);
}

TEST_CASE("a missing file and an unreadable password file are clear errors") {
  auto missing = load_config_file("/nonexistent/baton.yaml");
  REQUIRE(missing.problems.size() == 1);
  CHECK(missing.problems[0] ==
        "/nonexistent/baton.yaml: cannot open config file: No such file or directory");
  auto r = load_config_text("redis: {password_file: /nonexistent/secret}", "p.yaml");
  REQUIRE(r.problems.size() == 1);
  CHECK(has_problem(r, "password_file '/nonexistent/secret' cannot be read"));
}

TEST_CASE("the password file is read and trimmed") {
  test::temp_dir dir;
  std::ofstream(dir.file("pw")) << "s3cret\n";
  auto r = load_config_text("redis: {username: baton, password_file: " + dir.file("pw") + "}", "p");
  REQUIRE(r.ok());
  redis_link::link_settings link;
  std::string error;
  REQUIRE(make_link_settings(r.cfg, link, error));
  CHECK(link.endpoint.password == "s3cret");
  CHECK(link.endpoint.username == "baton");
}

TEST_CASE("a Sentinel URL sets up the locator, WAIT and their credentials") {
  test::temp_dir dir;
  std::ofstream(dir.file("spw")) << "sentinel-secret\n";
  auto r = load_config_text("redis:\n"
                            "  url: redis-sentinel://app:pw@10.0.0.1,10.0.0.2:26380/orders/3\n"
                            "  sentinel_username: watcher\n"
                            "  sentinel_password_file: " +
                                dir.file("spw") +
                                "\n"
                                "  sentinel_refresh_ms: 2000\n"
                                "  sentinel_failover_hold_ms: 0\n"
                                "  wait_replicas: 2\n"
                                "  wait_timeout_ms: 50\n"
                                "  wait_short: accept\n",
                            "s.yaml");
  for (const auto& p : r.problems)
    UNSCOPED_INFO(p);
  REQUIRE(r.ok());
  redis_link::link_settings link;
  std::string error;
  REQUIRE(make_link_settings(r.cfg, link, error));
  CHECK(link.uses_sentinel());
  CHECK(link.verify_master); // a server must say it is the master before it takes calls
  CHECK(link.master_name == "orders");
  REQUIRE(link.sentinels.size() == 2);
  CHECK(link.sentinels[1].port == 26380);
  CHECK(link.endpoint.host.empty()); // the sentinels say where
  CHECK(link.endpoint.username == "app");
  CHECK(link.endpoint.database == 3);
  CHECK(link.sentinel_username == "watcher");
  CHECK(link.sentinel_password == "sentinel-secret");
  CHECK(link.sentinel_refresh == std::chrono::milliseconds(2000));
  CHECK(link.sentinel_failover_hold == std::chrono::milliseconds(0));
  CHECK(link.wait_replicas == 2);
  CHECK(link.wait_timeout == std::chrono::milliseconds(50));
  CHECK_FALSE(link.wait_required);
  CHECK(link.describe() == "redis-sentinel://10.0.0.1:26379,10.0.0.2:26380/orders");
}

TEST_CASE("Sentinel and WAIT settings that cannot work are errors") {
  auto r = load_config_text("redis: {url: 'redis://h', sentinel_username: w, wait_short: maybe}",
                            "s.yaml");
  CHECK(has_problem(r, "sentinel_* keys need a redis-sentinel:// url"));
  CHECK(has_problem(r, "wait_short must be fail or accept, got 'maybe'"));
  auto bad_url = load_config_text("redis: {url: 'redis-sentinel://h1,h2'}", "s.yaml");
  CHECK(has_problem(bad_url, "master's name"));
  auto many = load_config_text("redis: {wait_replicas: 1000}", "s.yaml");
  CHECK_FALSE(many.ok());
  auto slow = load_config_text("redis: {wait_replicas: 1, wait_timeout_ms: 300}", "s.yaml");
  CHECK(has_problem(slow, "wait_timeout_ms must be below call_timeout_ms"));
}

TEST_CASE("a Cluster URL sets up the seeds and the map's refresh") {
  auto r = load_config_text("redis:\n"
                            "  url: redis-cluster://app:pw@10.0.0.1:7000,10.0.0.2\n"
                            "  cluster_refresh_ms: 1500\n"
                            "  wait_replicas: 1\n",
                            "s.yaml");
  for (const auto& p : r.problems)
    UNSCOPED_INFO(p);
  REQUIRE(r.ok());
  redis_link::link_settings link;
  std::string error;
  REQUIRE(make_link_settings(r.cfg, link, error));
  CHECK(link.uses_cluster());
  CHECK_FALSE(link.uses_sentinel());
  REQUIRE(link.cluster_seeds.size() == 2);
  CHECK(link.cluster_seeds[0].port == 7000);
  CHECK(link.cluster_seeds[1].port == 6379);
  CHECK(link.endpoint.host.empty()); // the slot map says where
  CHECK(link.endpoint.username == "app");
  CHECK(link.endpoint.password == "pw");
  CHECK(link.cluster_refresh == std::chrono::milliseconds(1500));
  CHECK(link.wait_replicas == 1);
  CHECK(link.describe() == "redis-cluster://10.0.0.1:7000,10.0.0.2:6379");
}

TEST_CASE("Cluster settings that cannot work are errors") {
  auto refresh = load_config_text("redis: {url: 'redis://h', cluster_refresh_ms: 1000}", "s.yaml");
  CHECK(has_problem(refresh, "cluster_refresh_ms needs a redis-cluster:// url"));
  auto db = load_config_text("redis: {url: 'redis-cluster://h:7000', database: 2}", "s.yaml");
  CHECK(has_problem(db, "database: Redis Cluster has database 0 only"));
  auto url_db = load_config_text("redis: {url: 'redis-cluster://h:7000/2'}", "s.yaml");
  CHECK(has_problem(url_db, "database 0 only"));
  auto often = load_config_text("redis: {url: 'redis-cluster://h', cluster_refresh_ms: 5}",
                                "s.yaml");
  CHECK_FALSE(often.ok());
}

TEST_CASE("deploy/baton.example.yaml is valid and sets every section") {
  auto r = load_config_file(std::string(BATON_SOURCE_DIR) + "/deploy/baton.example.yaml");
  for (const auto& p : r.problems)
    UNSCOPED_INFO(p);
  REQUIRE(r.ok());
  // Its values are the defaults: loading it must change nothing but the file name.
  config defaults;
  CHECK(r.cfg.socket.path == defaults.socket.path);
  CHECK(r.cfg.redis.call_timeout == defaults.redis.call_timeout);
  CHECK(r.cfg.redis.connections == defaults.redis.connections);
  CHECK(r.cfg.http.listen == defaults.http.listen);
  CHECK(r.cfg.socket.max_pipeline == defaults.socket.max_pipeline);
  CHECK(r.cfg.rate.max_key_length == defaults.rate.max_key_length);
  CHECK(r.cfg.rate.policies.empty());
  CHECK(r.cfg.rate.budget == defaults.rate.budget);
  CHECK(r.cfg.dedup.max_result_bytes == defaults.dedup.max_result_bytes);
  CHECK(r.cfg.dedup.max_ttl == defaults.dedup.max_ttl);
  CHECK(r.cfg.dedup.result_ttl == defaults.dedup.result_ttl);
  CHECK(r.cfg.secrets == defaults.secrets);
  CHECK(r.cfg.membership.heartbeat == defaults.membership.heartbeat);
  CHECK(r.cfg.membership.ttl == defaults.membership.ttl);
}

TEST_CASE("the membership section is read and checked") {
  auto r = load_config_text(
      "membership: {address: \"web-1:8080\", heartbeat_ms: 500, ttl_ms: 2000}\n", "m.yaml");
  REQUIRE(r.ok());
  CHECK(r.cfg.membership.address == "web-1:8080");
  CHECK(r.cfg.membership.heartbeat.count() == 500);
  CHECK(r.cfg.membership.ttl.count() == 2000);
  auto bad =
      load_config_text("membership: {heartbeat_ms: 1000, ttl_ms: 1500, color: red}\n", "bad.yaml");
  CHECK_FALSE(bad.ok());
  CHECK(bad.problems.size() == 2);
}

TEST_CASE("rate policies are read with all their windows") {
  auto r = load_config_text(R"(
rate:
  max_key_length: 128
  policies:
    - name: api
      windows:
        - {window_ms: 60000, limit: 100}
        - {window_ms: 3600000, limit: 1000}
        - {window_ms: 86400000, limit: 10000}
    - name: login
      algorithm: sliding_log
      windows: [{window_ms: 60000, limit: 5}]
      failure_mode: local
      local_share: 2
      shadow: true
)",
                            "rate.yaml");
  for (const auto& p : r.problems)
    UNSCOPED_INFO(p);
  REQUIRE(r.ok());
  CHECK(r.cfg.rate.max_key_length == 128);
  REQUIRE(r.cfg.rate.policies.size() == 2);
  const auto& api = r.cfg.rate.policies[0];
  CHECK(api.name == "api");
  CHECK(api.algorithm == "gcra"); // the default
  CHECK(api.failure_mode == "open");
  REQUIRE(api.windows.size() == 3);
  CHECK(api.windows[1].window == std::chrono::milliseconds(3600000));
  CHECK(api.windows[1].limit == 1000);
  const auto& login = r.cfg.rate.policies[1];
  CHECK(login.algorithm == "sliding_log");
  CHECK(login.failure_mode == "local");
  CHECK(login.local_share == 2);
  CHECK(login.shadow);
}

TEST_CASE("bad rate policies fail the check, each with its position") {
  auto r = load_config_text(R"(
rate:
  policies:
    - name: api
      algorithm: token_bucket
      windows: [{window_ms: 60000, limit: 0}]
    - name: api
      windows: [{window_ms: -5, limit: 10}]
    - name: empty
      windows: []
    - name: twice
      windows: [{window_ms: 1000, limit: 1}, {window_ms: 1000, limit: 2}]
      failure_mode: maybe
    - name: has space
      windows: [{window_ms: 1000}]
    - windows: [{window_ms: 1000, limit: 1}]
)",
                            "rate.yaml");
  CHECK_FALSE(r.ok());
  CHECK(has_problem(r, "rate.yaml:5:18: unknown algorithm 'token_bucket'"));
  CHECK(has_problem(r, "rate.yaml:6:43: limit must be between 1"));
  CHECK(has_problem(r, "rate.yaml:7:13: duplicate rate policy 'api'"));
  CHECK(has_problem(r, "window_ms must be between 1"));
  CHECK(has_problem(r, "windows of policy 'empty' must be a non-empty list"));
  CHECK(has_problem(r, "policy 'twice' has two windows of 1000 ms"));
  CHECK(has_problem(r, "failure_mode must be open, closed or local, got 'maybe'"));
  CHECK(has_problem(r, "policy name 'has space' must be"));
  CHECK(has_problem(r, "a window needs window_ms and limit"));
  CHECK(has_problem(r, "a rate policy needs a name"));
}

TEST_CASE("rate.budget_ms and the dedup section are read and bounded") {
  auto r = load_config_text(R"(
rate:
  budget_ms: 40
dedup:
  max_key_length: 64
  max_result_bytes: 1024
  max_ttl_ms: 3600000
  result_ttl_ms: 600000
)",
                            "dedup.yaml");
  REQUIRE(r.ok());
  CHECK(r.cfg.rate.budget == std::chrono::milliseconds(40));
  CHECK(r.cfg.dedup.max_key_length == 64);
  CHECK(r.cfg.dedup.max_result_bytes == 1024);
  CHECK(r.cfg.dedup.max_ttl == std::chrono::milliseconds(3600000));
  CHECK(r.cfg.dedup.result_ttl == std::chrono::milliseconds(600000));

  auto bad = load_config_text(R"(
rate:
  budget_ms: 0
dedup:
  max_key_length: 0
  max_ttl_ms: 1000
  result_ttl_ms: 2000
  results: 3
)",
                              "bad.yaml");
  CHECK_FALSE(bad.ok());
  std::string all;
  for (const auto& p : bad.problems)
    all += p + "\n";
  INFO(all);
  CHECK(all.find("bad.yaml:3:") != std::string::npos); // budget_ms
  CHECK(all.find("max_key_length") != std::string::npos);
  CHECK(all.find("result_ttl_ms must not exceed") != std::string::npos);
  CHECK(all.find("results") != std::string::npos); // unknown key
}

TEST_CASE("the drift margin grows with the TTL, from a floor") {
  using std::chrono::milliseconds;
  CHECK(lease::drift_margin_for(milliseconds(1000), milliseconds(10), 0.01) == milliseconds(10));
  CHECK(lease::drift_margin_for(milliseconds(3600000), milliseconds(10), 0.01) ==
        milliseconds(36000));
  CHECK(lease::drift_margin_for(milliseconds(5000), milliseconds(10), 0) == milliseconds(10));
  auto r = load_config_text("runtime: {drift_fraction: 0.02, drift_margin_ms: 5}", "f");
  REQUIRE(r.problems.empty());
  CHECK(r.cfg.runtime.drift_fraction == 0.02);
  CHECK(has_problem(load_config_text("runtime: {drift_fraction: 0.9}", "f"),
                    "drift_fraction must be between"));
  CHECK(has_problem(load_config_text("runtime: {drift_fraction: .nan}", "f"),
                    "drift_fraction must be a number"));
}

TEST_CASE("the caps of issue 14 are read, bounded, and the example sets their defaults") {
  auto r = load_config_text("socket: {max_watches_per_uid: 7}\n"
                            "http: {max_connections: 5}\n"
                            "sessions: {max_per_user: 3, max_per_node: 9}\n",
                            "caps.yaml");
  REQUIRE(r.ok());
  CHECK(r.cfg.socket.max_watches_per_uid == 7);
  CHECK(r.cfg.http.max_connections == 5);
  CHECK(r.cfg.sessions.max_per_user == 3);
  CHECK(r.cfg.sessions.max_per_node == 9);
  CHECK(has_problem(load_config_text("socket: {max_watches_per_uid: 0}", "f"),
                    "f:1:31: max_watches_per_uid must be between 1 and"));
  CHECK(has_problem(load_config_text("http: {max_connections: 0}", "f"),
                    "f:1:25: max_connections must be between 1 and"));
  CHECK(has_problem(load_config_text("sessions: {max_per_user: 0}", "f"),
                    "max_per_user must be between 1 and"));
  CHECK(has_problem(load_config_text("sessions: {max_per_node: many}", "f"),
                    "max_per_node must be an integer, got 'many'"));

  auto example = load_config_file(std::string(BATON_SOURCE_DIR) + "/deploy/baton.example.yaml");
  REQUIRE(example.ok());
  config defaults;
  CHECK(example.cfg.socket.max_watches_per_uid == defaults.socket.max_watches_per_uid);
  CHECK(example.cfg.http.max_connections == defaults.http.max_connections);
  CHECK(example.cfg.sessions.max_per_user == defaults.sessions.max_per_user);
  CHECK(example.cfg.sessions.max_per_node == defaults.sessions.max_per_node);
  CHECK(example.cfg.secrets.cache_max_entries == defaults.secrets.cache_max_entries);
}
