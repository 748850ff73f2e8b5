// The Redis link against a real primary and replica (no Sentinel): durable writes wait for the
// replica (and a missing replica costs the wait timeout, is counted, and still answers), only
// durable scripts wait, a replica is refused as a master by ROLE, and a write that meets
// READONLY is answered as not run and makes the link doubt its master.
#include <catch2/catch.hpp>

#include <string>

#include "tests/support/link_fixture.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using namespace baton::redis_link;
using namespace std::chrono_literals;
using baton::test::link_fixture;

namespace {

// A primary on a loopback port with one replica following it.
struct replicated {
  unsigned short primary_port = test::free_port();
  test::test_redis primary{{"--port", std::to_string(primary_port)}};
  test::test_redis replica{{"--replicaof", "127.0.0.1", std::to_string(primary_port)}};

  replicated() {
    bool synced = test::eventually(
        [&] {
          return replica.cli({"INFO", "replication"}).find("master_link_status:up") !=
                 std::string::npos;
        },
        30000);
    REQUIRE(synced);
  }
};

double millis_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

} // namespace

TEST_CASE_METHOD(link_fixture, "a durable write is answered once a replica has it") {
  replicated group;
  open(group.primary.unix_url(), 2000ms, {}, "", "", 2, [](link_settings& s) {
    s.wait_replicas = 1;
    s.wait_timeout = 300ms;
  });
  wait_ready();
  auto reply = script("dedup_done", {"test:dedup:{a}"}, {"owner", "result-1", "60000"});
  REQUIRE(reply.kind == reply_kind::array);
  CHECK(reply.elements[0].str == "stored");
  CHECK(counters.waits.load() == 1);
  CHECK(counters.waits_short.load() == 0);
  // WAIT answered with the replica's ack: the replica has the write now, not eventually.
  CHECK(group.replica.cli({"HGET", "test:dedup:{a}", "result"}) == "result-1");

  // A script that is not durable is not followed by WAIT.
  CHECK(script("time").kind == reply_kind::array);
  CHECK(counters.waits.load() == 1);

  // Without its replica the write still lands (Redis cannot take it back), but after the wait
  // timeout it is answered as a reply that never came: the caller resolves it as for a lost
  // reply, so every success it gives was on a replica.
  group.replica.pause();
  auto started = clock::now();
  reply = script("dedup_done", {"test:dedup:{b}"}, {"owner", "result-2", "60000"});
  auto waited = millis_since(started);
  group.replica.resume();
  CHECK(reply.outcome_unknown());
  CHECK(reply.str.find("0 of 1 replicas") != std::string::npos);
  CHECK(waited >= 290);
  CHECK(counters.waits.load() == 2);
  CHECK(counters.waits_short.load() == 1);
  CHECK(group.primary.cli({"HGET", "test:dedup:{b}", "result"}) == "result-2");

  // Replicas are missing now: for a second, durable writes are refused before they are sent,
  // instead of each blocking its connection (and every call behind it) for the wait timeout.
  started = clock::now();
  reply = script("dedup_done", {"test:dedup:{f}"}, {"owner", "result-3", "60000"});
  CHECK(millis_since(started) < 250);
  CHECK(reply.is_unavailable());
  CHECK_FALSE(reply.sent);
  CHECK(reply.str.find("replicas") != std::string::npos);
  CHECK(group.primary.cli({"EXISTS", "test:dedup:{f}"}) == "0");
  CHECK(counters.waits.load() == 2);
  // Other calls go on meanwhile.
  CHECK(call({"PING"}).str == "PONG");
  // A second on, the next durable write asks again, and the replica is back.
  drive([] { return false; }, 1100ms);
  reply = script("dedup_done", {"test:dedup:{g}"}, {"owner", "result-4", "60000"});
  REQUIRE(reply.kind == reply_kind::array);
  CHECK(reply.elements[0].str == "stored");
  CHECK(counters.waits.load() == 3);
}

TEST_CASE_METHOD(link_fixture, "with wait_short accept, a short WAIT passes the write's reply on") {
  replicated group;
  open(group.primary.unix_url(), 2000ms, {}, "", "", 1, [](link_settings& s) {
    s.wait_replicas = 1;
    s.wait_timeout = 200ms;
    s.wait_required = false;
  });
  wait_ready();
  group.replica.pause();
  auto reply = script("dedup_done", {"test:dedup:{e}"}, {"owner", "result", "60000"});
  group.replica.resume();
  REQUIRE(reply.kind == reply_kind::array);
  CHECK(reply.elements[0].str == "stored");
  CHECK(counters.waits_short.load() == 1);
  // Until the next probe, durable writes go out without WAIT, counted as short.
  reply = script("dedup_done", {"test:dedup:{h}"}, {"owner", "result", "60000"});
  REQUIRE(reply.kind == reply_kind::array);
  CHECK(counters.waits.load() == 1);
  CHECK(counters.waits_short.load() == 2);
}

TEST_CASE_METHOD(link_fixture, "a durable write that fails is answered at once, without waiting") {
  replicated group;
  open(group.primary.unix_url(), 2000ms, {}, "", "", 1, [](link_settings& s) {
    s.wait_replicas = 2; // more than there are: every WAIT would run to its timeout
    s.wait_timeout = 2000ms;
  });
  wait_ready();
  CHECK(call({"SET", "test:dedup:{c}", "a string, not a hash"}).str == "OK");
  auto started = clock::now();
  auto reply = script("dedup_done", {"test:dedup:{c}"}, {"owner", "result", "60000"});
  CHECK(reply.kind == reply_kind::error); // WRONGTYPE from the script
  CHECK(millis_since(started) < 1500);
}

TEST_CASE_METHOD(link_fixture, "a server that is not the master is refused by ROLE") {
  replicated group;
  std::string doubt;
  open(group.replica.unix_url(), 200ms, {}, "", "", 1,
       [](link_settings& s) { s.verify_master = true; });
  pool->on_master_doubt([&](const std::string& why) { doubt = why; });
  drive([&] { return counters.wrong_role.load() > 0; }, 5000ms);
  CHECK(counters.wrong_role.load() > 0);
  CHECK(doubt.find("not the master") != std::string::npos);
  CHECK(pool->status().ready == 0);
  auto reply = call({"SET", "k", "v"});
  CHECK(reply.is_unavailable());
  CHECK_FALSE(reply.sent); // never reached a server that could have run it
  CHECK(group.replica.cli({"EXISTS", "k"}) == "0");

  // The master passes the same check.
  link_fixture master_link;
  master_link.open(group.primary.unix_url(), 200ms, {}, "", "", 1,
                   [](link_settings& s) { s.verify_master = true; });
  master_link.wait_ready();
  CHECK(master_link.call({"SET", "k", "v"}).str == "OK");
}

TEST_CASE_METHOD(link_fixture,
                 "a write that meets READONLY did not run, and the master is doubted") {
  replicated group;
  int doubts = 0;
  open(group.replica.unix_url(), 500ms, {}, "", "", 1); // no ROLE check: as if demoted under us
  pool->on_master_doubt([&](const std::string&) { ++doubts; });
  wait_ready();
  auto reply = script("dedup_done", {"test:dedup:{d}"}, {"owner", "result", "60000"});
  CHECK(reply.is_unavailable());
  CHECK_FALSE(reply.sent);
  CHECK(reply.str.find("READONLY") != std::string::npos);
  CHECK(counters.wrong_role.load() == 1);
  CHECK(doubts >= 1);
  CHECK(pool->status().ready == 1); // the connection stays; only a new master moves it
}
