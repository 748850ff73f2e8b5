// The Redis health sampler end to end on a real redis-server: INFO redis_health, /metrics
// (promtool-clean) and batonctl redis show what the server says (maxmemory set with CONFIG
// SET, misses made by baton's own reads, the slow log), a paused Redis shows as failing and
// then recovers, and baton's own round trips to Redis are a histogram.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "protocol/resp_client.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;

namespace {

std::map<std::string, std::string> health_of(const test::test_batond& daemon) {
  resp_client c(daemon.socket_path());
  std::map<std::string, std::string> fields;
  std::istringstream in(c.call({"INFO", "redis_health"}).str);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
    fields[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return fields;
}

struct sampled_daemon {
  test::test_redis redis;
  test::temp_dir dir;
  std::unique_ptr<test::test_batond> daemon;

  sampled_daemon() {
    std::ofstream(dir.file("baton.yaml")) << "redis:\n  health_interval_ms: 500\n";
    daemon = std::make_unique<test::test_batond>(
        redis.unix_url(), std::vector<std::string>{"--config", dir.file("baton.yaml")});
  }
};

} // namespace

TEST_CASE_METHOD(sampled_daemon, "INFO redis_health shows what the server says, and follows it") {
  std::map<std::string, std::string> first;
  REQUIRE(test::slowly_eventually(
      [&] {
        first = health_of(*daemon);
        return first["health_sampling"] == "ok";
      },
      10000));
  CHECK(first["server_version"].rfind("7.", 0) == 0);
  CHECK(first["server_role"] == "master");
  CHECK(std::stoll(first["server_used_memory"]) > 0);
  CHECK(first["server_maxmemory"] == "0");
  CHECK(first["server_slowlog_len"] != "unknown");

  redis.cli({"CONFIG", "SET", "maxmemory", "100mb"});
  redis.cli({"CONFIG", "SET", "slowlog-log-slower-than", "0"}); // every command is slow now
  auto misses = std::stoll(first["server_keyspace_misses"]);
  {
    resp_client c(daemon->socket_path());
    for (int i = 0; i < 5; ++i) // reads of keys that do not exist: misses in Redis
      c.call({"DEDUP", "GET", "health-missing-" + std::to_string(i)});
  }
  CHECK(test::slowly_eventually(
      [&] {
        auto now = health_of(*daemon);
        return now["health_sampling"] == "ok" && now["server_maxmemory"] == "104857600" &&
               now["server_maxmemory_policy"] == "noeviction" &&
               std::stoll(now["server_keyspace_misses"]) >= misses + 5 &&
               std::stoll(now["server_slowlog_len"]) > 0;
      },
      10000));
}

TEST_CASE_METHOD(sampled_daemon, "a paused Redis shows as failing, then sampled again") {
  REQUIRE(test::slowly_eventually([&] { return health_of(*daemon)["health_sampling"] == "ok"; }, 10000));
  redis.pause();
  CHECK(test::slowly_eventually([&] { return health_of(*daemon)["health_sampling"] == "failing"; },
                         10000));
  auto failing = health_of(*daemon);
  if (failing["health_sampling"] == "failing") { // (not yet sampled again)
    CHECK(std::stoll(failing["health_sample_failures"]) >= 1);
    CHECK(failing.count("server_used_memory") == 0); // unknown, not stale or zero
  }
  redis.resume();
  CHECK(test::slowly_eventually([&] { return health_of(*daemon)["health_sampling"] == "ok"; }, 10000));
}

TEST_CASE_METHOD(sampled_daemon, "/metrics has the server's figures and baton's round trips, promtool-clean") {
  REQUIRE(test::slowly_eventually([&] { return health_of(*daemon)["health_sampling"] == "ok"; }, 10000));
  std::string body;
  REQUIRE(test::http_get(daemon->http_port(), "/metrics", &body) == 200);
  for (const char* name :
       {"baton_redis_server_used_memory_bytes ", "baton_redis_server_maxmemory_bytes 0",
        "baton_redis_server_keyspace_hits_total ", "baton_redis_server_connected_clients ",
        "baton_redis_server_is_primary 1", "baton_redis_server_slowlog_length ",
        "baton_redis_server_info{version=\"7.", "baton_redis_health_samples_total ",
        "baton_redis_health_sample_failures_total ", "baton_redis_round_trip_seconds_bucket{le=\"+Inf\"} ",
        "baton_redis_round_trip_seconds_count "})
    CHECK(body.find(name) != std::string::npos);
  auto count_at = body.find("baton_redis_round_trip_seconds_count ");
  REQUIRE(count_at != std::string::npos);
  CHECK(std::stoll(body.substr(count_at + 37)) > 0);
  test::temp_dir out;
  std::ofstream(out.file("metrics.txt")) << body;
  std::string promtool;
  auto promtool_status =
      test::run_command("promtool check metrics < " + out.file("metrics.txt"), &promtool);
  INFO(promtool);
  CHECK(promtool_status == 0);
}

TEST_CASE_METHOD(sampled_daemon, "batonctl redis prints it for a person and as JSON") {
  REQUIRE(test::slowly_eventually([&] { return health_of(*daemon)["health_sampling"] == "ok"; }, 10000));
  std::string out;
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " -s " + daemon->socket_path() + " redis",
                          &out) == 0);
  CHECK(out.find("reachable") != std::string::npos);
  CHECK(out.find("server      Redis 7.") != std::string::npos);
  CHECK(out.find("memory      ") != std::string::npos);
  CHECK(out.find("hit ratio") != std::string::npos);
  CHECK(test::run_command(std::string(BATONCTL_PATH) + " -s " + daemon->socket_path() +
                              " redis --json",
                          &out) == 0);
  auto doc = nlohmann::json::parse(out);
  CHECK(doc["ok"] == true);
  CHECK(doc["health"]["health_sampling"] == "ok");
  CHECK(doc["health"]["server_role"] == "master");
  redis.kill();
  CHECK(test::slowly_eventually(
      [&] {
        return test::run_command(std::string(BATONCTL_PATH) + " -s " + daemon->socket_path() +
                                     " redis",
                                 &out) == 1;
      },
      10000));
}
