// Rate limits through real batond processes against a real redis-server: exact admission
// under concurrency from two daemons, several windows in one call, the over-limit cache and
// RATE RESET across daemons, shadow mode, every failure mode with Redis stalled or killed,
// and bad input.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

namespace {

// A config file with the given rate section (YAML, already indented under "rate:").
std::string write_config(const test::temp_dir& dir, const std::string& rate_section) {
  auto path = dir.file("rate.yaml");
  std::ofstream(path) << "rate:\n" << rate_section;
  return path;
}

std::int64_t redis_now_us(const test::test_backend& redis) {
  // "seconds\nmicroseconds" (the nodes of a test cluster share this machine's clock).
  auto t = redis.cli({"TIME"});
  auto newline = t.find('\n');
  return std::stoll(t.substr(0, newline)) * 1000000 + std::stoll(t.substr(newline + 1));
}

// Window-aligned algorithms count per window of Redis TIME; a test that must not straddle a
// boundary waits for a fresh window when fewer than `need` are left of this one.
void avoid_boundary(const test::test_backend& redis, std::chrono::milliseconds window,
                    std::chrono::milliseconds need) {
  auto window_us = window.count() * 1000;
  auto now = redis_now_us(redis);
  auto left = window_us - now % window_us;
  if (left < need.count() * 1000)
    std::this_thread::sleep_for(std::chrono::microseconds(left + 1000));
}

bool allowed(const resp_value& r) {
  return field(r, "allowed") == 1;
}

struct hammer_result {
  int admitted = 0;
  int refused = 0;
  int degraded = 0;
  int errors = 0;
  std::chrono::milliseconds took{0};
};

// `clients` connections spread over the daemons call RATE CHECK on one key for `span`.
hammer_result hammer(const std::vector<test::test_batond*>& daemons, int clients,
                     const std::string& policy, std::chrono::milliseconds span) {
  std::atomic<int> admitted{0}, refused{0}, degraded{0}, errors{0};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      resp_client c(daemons[i % daemons.size()]->socket_path());
      while (std::chrono::steady_clock::now() - start < span) {
        auto r = c.call({"RATE", "CHECK", policy, "the-key"});
        if (r.kind == resp_value::type::error) {
          ++errors;
          continue;
        }
        ++(allowed(r) ? admitted : refused);
        if (field(r, "degraded") == 1) ++degraded;
      }
    });
  for (auto& t : threads)
    t.join();
  hammer_result result{admitted, refused, degraded, errors};
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

} // namespace

TEST_CASE("2 daemons x 32 connections on one key: exactly the limit is admitted", "[portable]") {
  auto algorithm = GENERATE(as<std::string>{}, "gcra", "sliding_log", "fixed_window");
  INFO(algorithm);
  test::test_backend redis;
  test::temp_dir dir;
  // An hour-long window: gcra refills one request per 18 s, far longer than the test.
  // A generous budget and `closed`: a degraded answer would show as a refusal, not hide.
  auto config = write_config(dir, "  budget_ms: 5000\n"
                                  "  policies:\n"
                                  "    - name: p\n"
                                  "      algorithm: " +
                                      algorithm +
                                      "\n"
                                      "      failure_mode: closed\n"
                                      "      windows: [{window_ms: 3600000, limit: 200}]\n");
  test::test_batond a(redis.url(), {"--config", config, "--node-id", "a"});
  test::test_batond b(redis.url(), {"--config", config, "--node-id", "b"});
  avoid_boundary(redis, 3600000ms, 10000ms);
  auto result = hammer({&a, &b}, 64, "p", 1500ms);
  INFO("admitted " << result.admitted << ", refused " << result.refused << " in "
                   << result.took.count() << " ms");
  CHECK(result.errors == 0);
  CHECK(result.degraded == 0);
  CHECK(result.refused > 0);
  CHECK(result.admitted == 200);
}

TEST_CASE("sliding_window stays within its documented bound under concurrency", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  budget_ms: 5000\n"
                                  "  policies:\n"
                                  "    - name: p\n"
                                  "      algorithm: sliding_window\n"
                                  "      failure_mode: closed\n"
                                  "      windows: [{window_ms: 10000, limit: 200}]\n");
  test::test_batond a(redis.url(), {"--config", config, "--node-id", "a"});
  test::test_batond b(redis.url(), {"--config", config, "--node-id", "b"});
  // Not aligned on purpose: the 2 s may straddle a window boundary.
  auto result = hammer({&a, &b}, 64, "p", 2000ms);
  INFO("admitted " << result.admitted << " in " << result.took.count() << " ms");
  CHECK(result.errors == 0);
  CHECK(result.degraded == 0);
  // From an idle key, a span d <= window admits between limit and limit * (1 + d / window).
  CHECK(result.admitted >= 200);
  CHECK(result.admitted <= 200 + 200 * result.took.count() / 10000 + 1);
}

TEST_CASE("a refusal by the hour window charges neither the minute nor the day", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  policies:\n"
                                  "    - name: tiered\n"
                                  "      windows:\n"
                                  "        - {window_ms: 60000, limit: 5}\n"
                                  "        - {window_ms: 3600000, limit: 3}\n"
                                  "        - {window_ms: 86400000, limit: 10}\n"
                                  "    - name: minute\n"
                                  "      windows: [{window_ms: 60000, limit: 5}]\n");
  test::test_batond a(redis.url(), {"--config", config});
  resp_client c(a.socket_path());
  for (int i = 0; i < 3; ++i)
    REQUIRE(allowed(c.call({"RATE", "CHECK", "tiered", "k"})));
  auto keys = redis.cli({"--raw", "KEYS", "baton:rate:tiered:*"});
  REQUIRE(keys.find("{k}") != std::string::npos);
  auto before = redis.cli({"GET", keys});
  auto refused = c.call({"RATE", "CHECK", "tiered", "k"});
  CHECK_FALSE(allowed(refused));
  CHECK(field(refused, "remaining") == 0);
  CHECK(field(refused, "retry_after_ms") > 60000); // the hour's next slot, not the minute's
  CHECK(redis.cli({"GET", keys}) == before);       // nothing charged
  // PEEK says the same without charging.
  CHECK_FALSE(allowed(c.call({"RATE", "PEEK", "tiered", "k"})));
  CHECK(redis.cli({"GET", keys}) == before);
}

TEST_CASE("over-limit keys are refused from the cache: RATE RESET on another daemon clears it",
          "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  policies:\n"
                                  "    - name: p\n"
                                  "      windows: [{window_ms: 3600000, limit: 2}]\n");
  test::test_batond a(redis.url(), {"--config", config, "--node-id", "a"});
  test::test_batond b(redis.url(), {"--config", config, "--node-id", "b"});
  resp_client ca(a.socket_path()), cb(b.socket_path());
  REQUIRE(allowed(ca.call({"RATE", "CHECK", "p", "k"})));
  REQUIRE(allowed(ca.call({"RATE", "CHECK", "p", "k"})));
  auto first = ca.call({"RATE", "CHECK", "p", "k"});
  CHECK_FALSE(allowed(first));
  CHECK(text_field(first, "source") == "redis");
  auto cached = ca.call({"RATE", "CHECK", "p", "k"});
  CHECK_FALSE(allowed(cached));
  CHECK(text_field(cached, "source") == "cache");
  CHECK(field(cached, "retry_after_ms") <= field(first, "retry_after_ms"));
  CHECK(field(cached, "retry_after_ms") > 0);
  // Another key is not affected; PEEK always asks Redis.
  CHECK(allowed(ca.call({"RATE", "CHECK", "p", "other"})));
  CHECK(text_field(ca.call({"RATE", "PEEK", "p", "k"}), "source") == "redis");

  CHECK(cb.call({"RATE", "RESET", "p", "k"}).integer == 1);
  // The reset's news reaches a over pub/sub: at once from one Redis, a moment later across a
  // cluster's bus. Until then a's cache still refuses (and counts it); then Redis admits.
  int cache_denials = 1;
  resp_value after;
  CHECK(test::eventually([&] {
    after = ca.call({"RATE", "CHECK", "p", "k"});
    if (text_field(after, "source") == "cache") ++cache_denials;
    return text_field(after, "source") == "redis";
  }));
  CHECK(allowed(after));
  CHECK(cb.call({"RATE", "RESET", "p", "never-seen"}).integer == 0);

  std::string metrics;
  REQUIRE(test::http_get(a.http_port(), "/metrics", &metrics) == 200);
  CHECK(metrics.find("baton_rate_cache_denials_total{policy=\"p\"} " +
                     std::to_string(cache_denials) + "\n") != std::string::npos);
}

TEST_CASE("shadow mode decides and counts but always allows", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  policies:\n"
                                  "    - name: trial\n"
                                  "      algorithm: fixed_window\n"
                                  "      shadow: true\n"
                                  "      windows: [{window_ms: 3600000, limit: 2}]\n");
  test::test_batond a(redis.url(), {"--config", config});
  avoid_boundary(redis, 3600000ms, 5000ms);
  resp_client c(a.socket_path());
  for (int i = 0; i < 2; ++i)
    CHECK(field(c.call({"RATE", "CHECK", "trial", "k"}), "limited") == 0);
  for (int i = 0; i < 3; ++i) {
    auto r = c.call({"RATE", "CHECK", "trial", "k"});
    CHECK(allowed(r));
    CHECK(field(r, "limited") == 1);
  }
  std::string metrics;
  REQUIRE(test::http_get(a.http_port(), "/metrics", &metrics) == 200);
  CHECK(metrics.find("baton_rate_shadow_passed_total{policy=\"trial\"} 3") != std::string::npos);
  CHECK(metrics.find("baton_rate_limited_total{policy=\"trial\"} 3") != std::string::npos);
  CHECK(metrics.find("baton_rate_allowed_total{policy=\"trial\"} 2") != std::string::npos);
}

TEST_CASE("Redis stalled or killed: every failure mode answers within its budget") {
  test::test_redis redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  budget_ms: 100\n"
                                  "  policies:\n"
                                  "    - {name: open, failure_mode: open,"
                                  " windows: [{window_ms: 3600000, limit: 100}]}\n"
                                  "    - {name: closed, failure_mode: closed,"
                                  " windows: [{window_ms: 3600000, limit: 100}]}\n"
                                  "    - {name: shared, failure_mode: local,"
                                  " windows: [{window_ms: 3600000, limit: 10}]}\n"
                                  "    - {name: fixed, failure_mode: local, local_share: 3,"
                                  " windows: [{window_ms: 3600000, limit: 10}]}\n");
  test::test_batond a(redis.unix_url(), {"--config", config, "--node-id", "a"});
  test::test_batond b(redis.unix_url(), {"--config", config, "--node-id", "b"});
  // Both daemons listen on the event channel: that is how the local share counts them.
  REQUIRE(test::eventually([&] {
    return redis.cli({"PUBSUB", "NUMSUB", "baton:lease-events"}).find("\n2") != std::string::npos;
  }));
  resp_client c(a.socket_path());
  for (auto policy : {"open", "closed", "shared", "fixed"})
    REQUIRE(field(c.call({"RATE", "CHECK", policy, "warm-up"}), "degraded") == 0);
  std::this_thread::sleep_for(50ms); // the live-daemon count is read after the first check

  auto timed = [&](const std::string& policy, const std::string& key) {
    auto start = std::chrono::steady_clock::now();
    auto r = c.call({"RATE", "CHECK", policy, key});
    auto took = std::chrono::steady_clock::now() - start;
    INFO(policy << " took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                << " ms: " << r.to_string());
    CHECK(took < 100ms + 250ms); // the budget, and slack for a loaded 2-core machine
    CHECK(field(r, "degraded") == 1);
    CHECK(text_field(r, "source") == (policy == "shared" || policy == "fixed" ? "local" : policy));
    return r;
  };
  auto check_modes = [&](const std::string& round) {
    CHECK(allowed(timed("open", round)));
    auto closed = timed("closed", round);
    CHECK_FALSE(allowed(closed));
    CHECK(field(closed, "retry_after_ms") > 0);
    // local: the limit divided by the 2 live daemons, or the configured share.
    int shared = 0, fixed = 0;
    for (int i = 0; i < 8; ++i) {
      shared += allowed(timed("shared", round));
      fixed += allowed(timed("fixed", round));
    }
    CHECK(shared == 5);
    CHECK(fixed == 3);
  };
  SECTION("stalled (SIGSTOP): each call waits out the budget") {
    redis.pause();
    check_modes("stalled");
    redis.resume();
  }
  SECTION("killed: refused at once") {
    redis.kill();
    check_modes("killed");
  }
  std::string metrics;
  REQUIRE(test::http_get(a.http_port(), "/metrics", &metrics) == 200);
  CHECK(metrics.find("baton_rate_degraded_total{policy=\"shared\"} 8") != std::string::npos);
}

TEST_CASE("bad rate input gets clear errors", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  max_key_length: 16\n"
                                  "  policies:\n"
                                  "    - name: p\n"
                                  "      windows: [{window_ms: 1000, limit: 5},"
                                  " {window_ms: 60000, limit: 50}]\n");
  test::test_batond a(redis.url(), {"--config", config});
  resp_client c(a.socket_path());
  auto error_of = [&](std::vector<std::string> args) {
    auto r = c.call(args);
    CHECK(r.kind == resp_value::type::error);
    return r.str;
  };
  CHECK(error_of({"RATE", "CHECK", "nope", "k"}).find("unknown rate policy 'nope'") !=
        std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", "k", "COST", "0"}).find("COST must be a positive") !=
        std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", "k", "COST", "-3"}).find("COST must be a positive") !=
        std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", "k", "COST", "6"}).find("exceeds the smallest limit") !=
        std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", "k", "COST", "99999999999999999999"})
            .find("COST must be a positive") != std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", std::string(17, 'x')}).find("1 to 16 bytes") !=
        std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", ""}).find("1 to 16 bytes") != std::string::npos);
  CHECK(error_of({"RATE", "CHECK", "p", "k", "COST"}).find("syntax error") != std::string::npos);
  CHECK(error_of({"RATE", "PEEK", "p"}).find("wrong number of arguments") != std::string::npos);
  CHECK(error_of({"RATE", "RESET", "p", "k", "extra"}).find("wrong number of arguments") !=
        std::string::npos);
  CHECK(error_of({"RATE", "FROB", "p", "k"}).find("unknown") != std::string::npos);
  // Nothing was charged by the refusals, and the daemon still answers.
  auto r = c.call({"RATE", "CHECK", "p", "k", "COST", "5"});
  CHECK(allowed(r));
  CHECK(field(r, "remaining") == 0);
}

TEST_CASE("a client's pipeline is decided in the order it was sent", "[portable]") {
  // As against Redis itself: request n+1 of one connection never runs before request n.
  test::test_backend redis;
  test::temp_dir dir;
  auto config = write_config(dir, "  policies:\n"
                                  "    - name: p\n"
                                  "      algorithm: sliding_log\n"
                                  "      windows: [{window_ms: 3600000, limit: 50}]\n");
  test::test_batond a(redis.url(), {"--config", config});
  resp_client c(a.socket_path());
  std::string batch;
  for (int i = 0; i < 120; ++i)
    batch += resp_client::format({"RATE", "CHECK", "p", "k"});
  c.send_raw(batch);
  std::string pattern;
  for (int i = 0; i < 120; ++i)
    pattern += allowed(c.read()) ? '1' : '0';
  CHECK(pattern == std::string(50, '1') + std::string(70, '0'));
}
