// lua/breaker_*.lua on a real redis-server: a trip opens a fleet breaker at once and a quorum
// breaker only once enough hosts tripped within the window; one host at a time holds the
// half-open probe, and only it settles; FORCE pins a state; generations only grow, also after
// Redis lost the breaker.
#include <catch2/catch.hpp>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;

namespace {

const std::string state_key = "baton:breaker:{pay}";
const std::string trips_key = "baton:breaker:{pay}:trips";
const std::string probe_key = "baton:breaker:{pay}:probe";
const std::string counts_key = "baton:breaker:{pay}:counts";
const std::string channel = "baton:breaker-events";

struct breaker_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value trip(const std::string& node, int needed = 1, const std::string& floor = "0",
                  const std::string& window_ms = "10000") {
    return lua.run(
        "breaker_trip", {state_key, trips_key, probe_key},
        {node, std::to_string(needed), window_ms, "1000", "2", "60000", floor, channel, "pay"});
  }
  resp_value probe(const std::string& node, const std::string& floor = "0") {
    return lua.run("breaker_probe", {state_key, probe_key}, {node, "5000", floor, channel, "pay"});
  }
  resp_value settle(const std::string& node, const std::string& how) {
    return lua.run("breaker_settle", {state_key, probe_key, trips_key},
                   {node, how, "1000", "2", "60000", "0", channel, "pay"});
  }
  resp_value force(const std::string& mode) {
    return lua.run("breaker_force", {state_key, probe_key, trips_key},
                   {mode, "ops", "0", channel, "pay"});
  }
  resp_value read() {
    return lua.run("breaker_read", {state_key, probe_key, trips_key, counts_key}, {"10000"});
  }
  /// The open time is over (as if it had passed): the next probe turns it half-open.
  void end_open_time() { lua.call({"HSET", state_key, "open_until", "0"}); }
};

} // namespace

TEST_CASE_METHOD(breaker_fixture, "a fleet breaker opens on the first trip and says so once") {
  protocol::resp_client events(redis.socket_path());
  events.call({"SUBSCRIBE", channel});
  auto opened = trip("a");
  REQUIRE(opened.elements.at(0).integer == 1);
  auto gen = opened.elements.at(1).integer;
  CHECK(gen > 1000000000000); // at least Redis' clock in ms
  CHECK(opened.elements.at(2).integer == 1000);
  auto message = events.read();
  CHECK(message.elements.at(2).str == "state pay open " + std::to_string(gen) + " a 1000 1");
  auto again = trip("b");
  CHECK(again.elements.at(0).integer == 2);
  CHECK(again.elements.at(1).str == "open");
  CHECK(again.elements.at(2).integer == gen);
}

TEST_CASE_METHOD(breaker_fixture, "a quorum breaker opens once enough distinct hosts tripped") {
  auto first = trip("a", 2);
  CHECK(first.elements.at(0).integer == 3);
  CHECK(first.elements.at(1).integer == 1);
  CHECK(first.elements.at(2).integer == 2);
  CHECK(trip("a", 2).elements.at(1).integer == 1); // the same host twice is one host
  CHECK(lua.call({"EXISTS", state_key}).integer == 0);
  CHECK(trip("b", 2).elements.at(0).integer == 1);
  CHECK(lua.call({"HGET", state_key, "state"}).str == "open");
}

TEST_CASE_METHOD(breaker_fixture, "a trip older than the window does not count toward a quorum") {
  lua.call({"ZADD", trips_key, "1", "old-host"}); // tripped long ago
  CHECK(trip("a", 2, "0", "5000").elements.at(0).integer == 3);
  CHECK(lua.call({"ZCARD", trips_key}).integer == 1); // and it is forgotten
}

TEST_CASE_METHOD(breaker_fixture,
                 "one host at a time holds the probe, once the open time is over") {
  trip("a");
  auto early = probe("a");
  CHECK(early.elements.at(0).integer == 0);
  CHECK(early.elements.at(1).str == "open");
  end_open_time();
  auto got = probe("b");
  REQUIRE(got.elements.at(0).integer == 1);
  CHECK(lua.call({"HGET", state_key, "state"}).str == "half-open");
  auto other = probe("c");
  CHECK(other.elements.at(0).integer == 0);
  CHECK(other.elements.at(3).str == "b");
  lua.call({"PEXPIRE", probe_key, "100"});
  CHECK(probe("b").elements.at(0).integer == 1);       // asking again keeps it, for the full TTL
  CHECK(lua.call({"PTTL", probe_key}).integer > 4000); // and a lost prober gives it up in time
}

TEST_CASE_METHOD(breaker_fixture, "a breaker whose hash Redis lost probes rather than waits") {
  // A daemon knew it open (floor > 0); Redis restarted without its data.
  auto got = probe("a", "5000");
  REQUIRE(got.elements.at(0).integer == 1);
  CHECK(got.elements.at(1).integer > 5000);
  CHECK(lua.call({"HGET", state_key, "state"}).str == "half-open");
  // Never heard of by anyone (floor 0): closed, nothing to probe.
  lua.call({"DEL", state_key, probe_key});
  CHECK(probe("a", "0").elements.at(1).str == "closed");
}

TEST_CASE_METHOD(breaker_fixture,
                 "only the probe's holder settles: ok closes, fail re-opens longer") {
  trip("a");
  end_open_time();
  probe("b");
  CHECK(settle("c", "ok").elements.at(1).str == "not-holder");
  auto reopened = settle("b", "fail");
  REQUIRE(reopened.elements.at(0).integer == 1);
  CHECK(reopened.elements.at(1).str == "open");
  CHECK(reopened.elements.at(3).integer == 2000); // second trip: 1 s x 2
  CHECK(lua.call({"EXISTS", probe_key}).integer == 0);
  end_open_time();
  probe("c");
  auto closed = settle("c", "ok");
  CHECK(closed.elements.at(1).str == "closed");
  CHECK(closed.elements.at(2).integer > reopened.elements.at(2).integer);
  CHECK(lua.call({"EXISTS", trips_key}).integer == 0);
  CHECK(lua.call({"HGET", state_key, "trips"}).str == "0");
}

TEST_CASE_METHOD(breaker_fixture,
                 "FORCE pins a state that trips cannot change, and auto gives it back") {
  CHECK(force("open").elements.at(1).str == "forced-open");
  CHECK(trip("a").elements.at(1).str == "forced-open");
  CHECK(probe("a").elements.at(0).integer == 0);
  CHECK(force("closed").elements.at(1).str == "forced-closed");
  CHECK(trip("a").elements.at(1).str == "forced-closed");
  CHECK(force("auto").elements.at(1).str == "closed");
  CHECK(trip("a").elements.at(0).integer == 1);
}

TEST_CASE_METHOD(breaker_fixture, "generations never go back, also after Redis lost the breaker") {
  auto first = trip("a").elements.at(1).integer;
  auto floor = std::to_string(first + 1000000); // a daemon saw one far ahead of Redis' clock
  lua.call({"DEL", state_key, trips_key});      // lost: a restart without persistence
  auto second = trip("a", 1, floor).elements.at(1).integer;
  CHECK(second == first + 1000001);
}

TEST_CASE_METHOD(breaker_fixture,
                 "read gives the state, the probe holder, the trips and the counts") {
  CHECK(read().elements.at(1).str == "closed"); // never heard of: closed, generation 0
  CHECK(read().elements.at(2).integer == 0);
  trip("a");
  lua.run("breaker_counts", {counts_key}, {"a", "100", "60", "0", "5000"});
  auto r = read();
  CHECK(r.elements.at(1).str == "open");
  CHECK(r.elements.at(3).integer > 0);
  CHECK(r.elements.at(3).integer <= 1000);
  CHECK(r.elements.at(4).str == "a");
  CHECK(r.elements.at(6).integer == 1);
  CHECK(r.elements.at(8).elements.at(0).str == "a");
  REQUIRE(r.elements.at(9).elements.size() == 2);
  CHECK(r.elements.at(9).elements.at(1).str.rfind("100 60 0 ", 0) == 0);
  CHECK(lua.call({"PTTL", counts_key}).integer > 0);
}
