// Circuit breakers through three real batond processes on one real redis-server: a fleet
// breaker tripped on one host is open on all; a quorum breaker opens everywhere only once a
// second host tripped; in half-open exactly one probe is admitted fleet-wide, and its result
// closes or re-opens the breaker everywhere; FORCE overrides everywhere and survives a restart
// of every daemon; with Redis killed breakers keep deciding, degraded; bad input changes
// nothing.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <memory>
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

// Small windows and short open times, so that tests trip and probe in a second or two.
const char* breaker_config = R"(breakers:
  default: {window: {calls: 4}, minimum_calls: 4, open_ms: 800, scope: local}
  policies:
    - {name: pay, window: {calls: 4}, minimum_calls: 4, open_ms: 800, probe_timeout_ms: 5000, scope: fleet}
    - {name: quorum, window: {calls: 4}, minimum_calls: 4, open_ms: 60000, scope: quorum, quorum: {hosts: 2}}
    - {name: long, window: {calls: 4}, minimum_calls: 4, open_ms: 60000, scope: fleet}
)";

// Three daemons on `Redis`: a server of the test's own (to kill it), or a test_backend (its own
// server, or the cluster of a cluster run).
template <class Redis>
struct fleet_on {
  Redis redis;
  test::temp_dir dir;
  std::string config;
  std::vector<std::unique_ptr<test::test_batond>> daemons;

  fleet_on() {
    config = dir.file("breakers.yaml");
    std::ofstream(config) << breaker_config;
    for (const char* node : {"a", "b", "c"})
      start(node);
  }
  void start(const std::string& node) {
    daemons.push_back(std::make_unique<test::test_batond>(
        redis.url(), std::vector<std::string>{"--config", config, "--node-id", node}));
  }
  resp_value call(std::size_t host, std::vector<std::string> args) {
    return resp_client(daemons.at(host)->socket_path()).call(args);
  }
  resp_value check(std::size_t host, const std::string& name) {
    return call(host, {"BREAKER", "CHECK", name});
  }
  void fail_calls(std::size_t host, const std::string& name, int n = 4) {
    resp_client c(daemons.at(host)->socket_path());
    for (int i = 0; i < n; ++i)
      REQUIRE(c.call({"BREAKER", "REPORT", name, "fail"}).str == "OK");
  }
  bool state_everywhere(const std::string& name, const std::string& state) {
    for (std::size_t h = 0; h < daemons.size(); ++h)
      if (text_field(check(h, name), "state") != state) return false;
    return true;
  }
};

using fleet = fleet_on<test::test_backend>;
using own_redis_fleet = fleet_on<test::test_redis>;

} // namespace

TEST_CASE_METHOD(fleet, "a fleet breaker tripped on one host is open on every host", "[portable]") {
  CHECK(state_everywhere("pay", "closed"));
  fail_calls(0, "pay");
  auto here = check(0, "pay");
  CHECK(field(here, "allowed") == 0);
  CHECK(text_field(here, "state") == "open");
  CHECK(test::eventually([&] { return state_everywhere("pay", "open"); }, 3000));
  // Every host ends on the fleet's generation (the tripping host too, once Redis answered).
  CHECK(test::eventually(
      [&] {
        auto g = field(check(0, "pay"), "generation");
        return g > 1 && field(check(1, "pay"), "generation") == g &&
               field(check(2, "pay"), "generation") == g;
      },
      3000));
  for (std::size_t h = 1; h < 3; ++h)
    CHECK(field(check(h, "pay"), "allowed") == 0);
  auto state = call(1, {"BREAKER", "STATE", "pay"});
  const auto* fleet_view = test::find_field(state, "fleet");
  REQUIRE(fleet_view);
  CHECK(text_field(*fleet_view, "state") == "open");
  CHECK(text_field(*fleet_view, "tripped_by") == "a");
}

TEST_CASE_METHOD(fleet, "a quorum breaker opens everywhere only once a second host tripped",
                 "[portable]") {
  fail_calls(0, "quorum");
  CHECK(text_field(check(0, "quorum"), "state") == "open"); // alone: open on itself
  std::this_thread::sleep_for(300ms); // room for a wrong announcement to arrive
  CHECK(text_field(check(1, "quorum"), "state") == "closed");
  CHECK(text_field(check(2, "quorum"), "state") == "closed");
  fail_calls(1, "quorum");
  CHECK(test::eventually([&] { return state_everywhere("quorum", "open"); }, 3000));
  auto state = call(2, {"BREAKER", "STATE", "quorum"});
  const auto* fleet_view = test::find_field(state, "fleet");
  REQUIRE(fleet_view);
  const auto* trips = test::find_field(*fleet_view, "trips");
  REQUIRE(trips);
  CHECK(trips->elements.size() == 4); // a and b, each with how long ago
}

TEST_CASE_METHOD(fleet,
                 "half-open admits exactly one probe fleet-wide, and its result is everyone's",
                 "[portable]") {
  auto probe_round = [&] {
    // Many clients on all three daemons check at once, past the open time, until a second
    // after the probe was admitted (at most 8 s: a slow machine may take longer to get there).
    std::atomic<int> probes{0}, allowed{0};
    std::atomic<std::size_t> probe_host{99};
    std::atomic<std::int64_t> stop_at_ms{8000};
    auto start = std::chrono::steady_clock::now();
    auto elapsed_ms = [start] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start)
          .count();
    };
    std::vector<std::thread> clients;
    for (std::size_t h = 0; h < 3; ++h)
      for (int t = 0; t < 3; ++t)
        clients.emplace_back([&, h] {
          resp_client c(daemons.at(h)->socket_path());
          while (elapsed_ms() < stop_at_ms.load()) {
            auto r = c.call({"BREAKER", "CHECK", "pay"});
            if (field(r, "allowed") == 1) ++allowed;
            if (field(r, "probe") == 1) {
              ++probes;
              probe_host = h;
              stop_at_ms = std::min<std::int64_t>(stop_at_ms.load(), elapsed_ms() + 1000);
            }
            std::this_thread::sleep_for(2ms);
          }
        });
    for (auto& t : clients)
      t.join();
    CHECK(probes.load() == 1);
    CHECK(allowed.load() == 1);
    return probe_host.load();
  };
  fail_calls(0, "pay");
  REQUIRE(test::eventually([&] { return state_everywhere("pay", "open"); }, 3000));
  auto host = probe_round();
  REQUIRE(host < 3);
  // The probe failed: open again on every host.
  REQUIRE(call(host, {"BREAKER", "REPORT", "pay", "fail"}).str == "OK");
  CHECK(test::eventually([&] { return state_everywhere("pay", "open"); }, 3000));
  // The next half-open period: one probe again; this time it passes, and all close.
  host = probe_round();
  REQUIRE(host < 3);
  REQUIRE(call(host, {"BREAKER", "REPORT", "pay", "ok"}).str == "OK");
  CHECK(test::eventually([&] { return state_everywhere("pay", "closed"); }, 3000));
  CHECK(field(check(0, "pay"), "allowed") == 1);
}

TEST_CASE_METHOD(fleet, "FORCE overrides on every host and survives a restart of every daemon",
                 "[portable]") {
  auto forced = call(1, {"BREAKER", "FORCE", "long", "open"});
  CHECK(text_field(forced, "state") == "forced-open");
  CHECK(test::eventually([&] { return state_everywhere("long", "forced-open"); }, 3000));
  CHECK(daemons[1]->log().find("msg=forced breaker=long mode=open") != std::string::npos);
  // Reports do not move a forced breaker.
  fail_calls(0, "long");
  CHECK(call(0, {"BREAKER", "FORCE", "long", "closed"}).kind != resp_value::type::error);
  CHECK(test::eventually([&] { return state_everywhere("long", "forced-closed"); }, 3000));
  fail_calls(2, "long", 8);
  CHECK(field(check(2, "long"), "allowed") == 1);

  // Every daemon restarts: the state lives in Redis.
  daemons.clear();
  for (const char* node : {"a", "b", "c"})
    start(node);
  CHECK(test::eventually([&] { return state_everywhere("long", "forced-closed"); }, 3000));

  CHECK(text_field(call(0, {"BREAKER", "FORCE", "long", "auto"}), "state") == "closed");
  CHECK(test::eventually([&] { return state_everywhere("long", "closed"); }, 3000));
  fail_calls(1, "long");
  CHECK(test::eventually([&] { return state_everywhere("long", "open"); }, 3000));
  // A trip opened by the fleet survives restarts too.
  daemons.clear();
  for (const char* node : {"a", "b", "c"})
    start(node);
  CHECK(test::eventually([&] { return state_everywhere("long", "open"); }, 3000));
}

TEST_CASE_METHOD(own_redis_fleet,
                 "with Redis killed, breakers keep deciding on local data, degraded") {
  redis.kill();
  CHECK(test::eventually([&] { return field(check(0, "pay"), "degraded") == 1; }, 5000));
  CHECK(field(check(0, "pay"), "allowed") == 1);
  fail_calls(0, "pay");
  auto r = check(0, "pay");
  CHECK(text_field(r, "state") == "open");
  CHECK(field(r, "allowed") == 0);
  CHECK(field(r, "degraded") == 1);
  CHECK(text_field(check(1, "pay"), "state") == "closed"); // nobody could tell b
  // The daemon's own breaker around Redis shows, read-only.
  CHECK(test::eventually([&] { return text_field(check(0, "baton:redis"), "state") != "closed"; },
                         5000));
  auto state = call(0, {"BREAKER", "STATE", "pay"});
  CHECK(text_field(state, "fleet") == "unavailable");
  // A trip while Redis is out of reach is this host's alone (fleet 0) until Redis is back;
  // then the fleet hears of it.
  fail_calls(0, "long");
  auto alone = check(0, "long");
  CHECK(text_field(alone, "state") == "open");
  CHECK(field(alone, "fleet") == 0);
  redis.start();
  CHECK(test::eventually([&] { return state_everywhere("long", "open"); }, 20000));
  CHECK(field(check(1, "long"), "fleet") == 1);
}

TEST_CASE_METHOD(fleet, "bad input gets a clear error and changes nothing", "[portable]") {
  auto err = [&](std::vector<std::string> args) {
    auto r = call(0, args);
    CHECK(r.kind == resp_value::type::error);
    return r.str;
  };
  CHECK(err({"BREAKER", "REPORT", "pay", "maybe"}).find("ok, fail or slow") != std::string::npos);
  CHECK(err({"BREAKER", "REPORT", "pay", "fail", "-5"}).find("latency_ms") != std::string::npos);
  CHECK(err({"BREAKER", "REPORT", "pay", "fail", "12x"}).find("latency_ms") != std::string::npos);
  CHECK(err({"BREAKER", "REPORT", "pay", "fail", "1", "2"}).find("syntax") != std::string::npos);
  CHECK(err({"BREAKER", "CHECK", "bad name!"}).find("breaker name") != std::string::npos);
  CHECK(err({"BREAKER", "CHECK", "batonic"}).find("reserved") != std::string::npos);
  CHECK(err({"BREAKER", "REPORT", "baton:redis", "fail"}).find("own breaker") != std::string::npos);
  CHECK(err({"BREAKER", "FORCE", "pay", "sideways"}).find("open, closed or auto") !=
        std::string::npos);
  CHECK(err({"BREAKER", "CHECK"}).find("wrong number of arguments") != std::string::npos);
  auto state = call(0, {"BREAKER", "STATE", "pay"});
  CHECK(field(state, "calls") == 0); // none of the refused reports counted
  CHECK(text_field(state, "state") == "closed");
  // A name from the default policy is made on first use, and listed.
  CHECK(field(check(0, "made-on-use"), "allowed") == 1);
  auto list = call(0, {"BREAKER", "LIST"});
  CHECK(text_field(list, "made-on-use") == "closed");
  CHECK(text_field(list, "baton:redis") == "closed");
}

TEST_CASE_METHOD(fleet, "BREAKER WATCH pushes the state now and every change, wherever decided",
                 "[portable]") {
  resp_client watcher(daemons[2]->socket_path());
  watcher.call({"HELLO", "3"});
  auto reply = watcher.call({"BREAKER", "WATCH", "pay"});
  CHECK(reply.integer == 1);
  auto now = watcher.read();
  REQUIRE(now.elements.size() == 5);
  CHECK(now.elements[0].str == "breaker");
  CHECK(now.elements[1].str == "closed");
  CHECK(now.elements[2].str == "pay");
  fail_calls(0, "pay"); // tripped on another daemon
  auto pushed = watcher.read();
  REQUIRE(pushed.elements.size() == 5);
  CHECK(pushed.elements[1].str == "open");
  CHECK(pushed.elements[4].str == "a");
  CHECK(pushed.elements[3].integer > 1);
  // A bad name watches nothing.
  auto refused = watcher.call({"BREAKER", "WATCH", "pay", "bad name!"});
  CHECK(refused.kind == resp_value::type::error);
  CHECK(watcher.call({"BREAKER", "UNWATCH"}).integer == 0);
}
