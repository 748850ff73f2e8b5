// The Redis link against a real redis-server: pipelining, scripts and NOSCRIPT, Redis killed
// and restarted under load, Redis paused past the budget, the breaker, AUTH with an ACL user,
// and TLS. The link runs on an io_context driven by the test thread.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>

#include "redis/redis_pool.hpp"
#include "tests/support/link_fixture.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using namespace baton::redis_link;
using namespace std::chrono_literals;
using baton::test::link_fixture;

namespace {

double millis_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

} // namespace

TEST_CASE_METHOD(link_fixture, "commands and scripts go through, and NOSCRIPT is handled") {
  test::test_redis redis;
  open(redis.unix_url());
  CHECK(call({"PING"}).str == "PONG");
  CHECK(call({"SET", "k", "v"}).str == "OK");
  CHECK(call({"GET", "k"}).str == "v");
  CHECK(call({"INCR", "k"}).kind == reply_kind::error); // a Redis error passes through
  auto first = script("time");
  REQUIRE(first.kind == reply_kind::array);
  CHECK(first.elements[0].integer > 1600000000);
  auto reloads = counters.script_reloads.load();
  CHECK(script("time").kind == reply_kind::array);
  CHECK(counters.script_reloads.load() == reloads); // cached now: EVALSHA worked
  CHECK(redis.cli({"SCRIPT", "FLUSH"}) == "OK");
  CHECK(script("time").kind == reply_kind::array);
  CHECK(counters.script_reloads.load() == reloads + 1);
  CHECK(script("no_such_script").is_unavailable());
}

TEST_CASE_METHOD(link_fixture, "a call made from a reply keeps to its client's connection") {
  // A client's second-stage calls (a write after a read, the EVAL after NOSCRIPT, the abandon
  // of a grant that came too late) must run in Redis after the first and before the client's
  // later requests: on the same connection.
  test::test_redis redis;
  open(redis.unix_url(), 1000ms, {}, "", "", 4);
  wait_ready();
  int same = 0, done = 0;
  constexpr int clients = 16;
  for (int client = 0; client < clients; ++client) {
    pool->set_affinity(static_cast<std::uint64_t>(client));
    pool->call({"CLIENT", "ID"}, [&](redis_reply first) {
      // The callback runs on the I/O thread, outside any request's routing.
      pool->call({"CLIENT", "ID"}, [&, first_id = first.integer](redis_reply second) {
        if (second.integer == first_id) ++same;
        ++done;
      });
    });
    pool->set_affinity(std::nullopt);
  }
  drive([&] { return done == clients; });
  CHECK(done == clients);
  CHECK(same == clients);
}

TEST_CASE_METHOD(link_fixture, "calls made as earlier calls time out reach Redis once it answers") {
  // An answer to a call that ran out of budget may send the next call on the same connection at
  // once (the abandon of a lease grant that came too late). The connection answered its expired
  // calls while walking its queue, and such a send grew the queue under the walk: a crash (the
  // chaos harness's slow network) or lost or doubled answers.
  test::test_redis redis;
  open(redis.unix_url(), 100ms, {}, "", "", 1);
  wait_ready();
  constexpr int calls = 2000;
  int timed_out = 0, followed = 0, follow_ups_answered = 0;
  redis.pause();
  pool->set_affinity(7);
  for (int i = 0; i < calls; ++i)
    pool->call({"PING"}, [&](redis_reply r) {
      if (!r.is_unavailable()) return;
      ++timed_out;
      ++followed;
      pool->call({"INCR", "follow-ups"}, [&](redis_reply f) {
        if (f.kind == reply_kind::integer) ++follow_ups_answered;
      });
    });
  pool->set_affinity(std::nullopt);
  drive([&] { return timed_out == calls; }, 3000ms);
  redis.resume();
  CHECK(timed_out == calls); // each answered once
  // The follow-ups had their own budget, and ran out too while Redis was stopped; what matters
  // is that each was answered exactly once and the daemon is whole.
  drive([&] { return false; }, 300ms);
  CHECK(followed == calls);
  CHECK(call({"PING"}).str == "PONG");
  CHECK(follow_ups_answered <= calls);
}

TEST_CASE_METHOD(link_fixture, "every script is loaded before a connection is ready, again "
                               "after a Redis restart") {
  test::test_redis redis;
  open(redis.unix_url());
  wait_ready();
  script_registry scripts;
  auto all_cached = [&] {
    for (const auto& [name, s] : scripts.all())
      if (redis.cli({"SCRIPT", "EXISTS", s.sha1}) != "1") return false;
    return true;
  };
  CHECK(all_cached());
  redis.restart(); // an empty script cache
  drive([&] { return pool->status().ready == 0; }, 2000ms);
  wait_ready();
  CHECK(all_cached());
  // So the first call of a script after the restart meets no NOSCRIPT: nothing to reorder.
  auto reloads = counters.script_reloads.load();
  CHECK(script("time").kind == reply_kind::array);
  CHECK(counters.script_reloads.load() == reloads);
}

TEST_CASE_METHOD(link_fixture, "many concurrent calls share few round trips") {
  test::test_redis redis;
  open(redis.unix_url(), 5000ms); // this test is about batching, not budgets
  wait_ready();
  auto before = counters.round_trips.load();
  int answered = 0;
  for (int i = 0; i < 2000; ++i)
    pool->call({"INCR", "counter"}, [&](redis_reply r) {
      if (r.kind == reply_kind::integer) ++answered;
    });
  drive([&] { return answered == 2000; });
  CHECK(answered == 2000);
  CHECK(counters.round_trips.load() - before < 100);
  CHECK(call({"GET", "counter"}).str == "2000");
}

TEST_CASE_METHOD(link_fixture,
                 "Redis killed and restarted under load: every call answered in budget") {
  test::test_redis redis;
  open(redis.unix_url(), 100ms);
  wait_ready();
  std::size_t ok = 0, failed = 0;
  double worst = 0;
  int in_flight = 0;
  auto issue = [&] {
    ++in_flight;
    auto sent = clock::now();
    pool->call({"INCR", "load"}, [&, sent](redis_reply r) {
      --in_flight;
      (r.kind == reply_kind::integer ? ok : failed)++;
      worst = std::max(worst, millis_since(sent));
    });
  };
  auto started = clock::now();
  bool killed = false;
  std::thread restarter; // starting redis blocks until it answers: keep the loop turning
  while (millis_since(started) < 3000) {
    // Top up to 16 in flight, but at most 16 per turn: with the breaker open, calls fail at
    // once and a plain "while (in_flight < 16)" would spin without turning the event loop.
    for (int i = 0; i < 16 && in_flight < 16; ++i)
      issue();
    if (!killed && millis_since(started) > 500) {
      redis.kill();
      killed = true;
    }
    if (!restarter.joinable() && millis_since(started) > 1500)
      restarter = std::thread([&] { redis.start(); });
    if (io.stopped()) io.restart();
    io.run_one_for(1ms);
  }
  restarter.join();
  drive([&] { return in_flight == 0; });
  REQUIRE(in_flight == 0);
  INFO("ok=" << ok << " failed=" << failed << " worst=" << worst << "ms");
  CHECK(ok > 100);
  CHECK(failed > 0);
  // The budget plus scheduling slack (sanitizer builds and a loaded CI machine are slow);
  // without budgets a call would wait for the connect timeout or the dead-connection limit.
  CHECK(worst < 100 + 300);
  // Redis is back: calls work again, with no state from before (no persistence).
  CHECK(call({"PING"}).str == "PONG");
  CHECK(counters.reconnects.load() >= 4);
}

TEST_CASE_METHOD(link_fixture, "a dead Redis costs microseconds once the breaker is open") {
  test::test_redis redis;
  open(redis.unix_url(), 200ms);
  wait_ready();
  redis.kill();
  drive([&] { return pool->status().breaker == redis_breaker::state::open; }, 1000ms);
  REQUIRE(pool->status().breaker == redis_breaker::state::open);
  auto t = clock::now();
  auto reply = call({"PING"});
  CHECK(reply.is_unavailable());
  CHECK(millis_since(t) < 5);
  CHECK(reply.str.find("breaker open") != std::string::npos);
  redis.start();
  drive([&] { return pool->status().reachable(); });
  CHECK(call({"PING"}).str == "PONG");
}

TEST_CASE_METHOD(link_fixture, "Redis paused past the budget: UNAVAILABLE in time, then recovery") {
  test::test_redis redis;
  open(redis.unix_url(), 100ms);
  wait_ready();
  redis.cli({"CLIENT", "PAUSE", "800", "ALL"});
  auto t = clock::now();
  auto reply = call({"GET", "x"});
  auto elapsed = millis_since(t);
  CHECK(reply.is_unavailable());
  CHECK(reply.outcome_unknown()); // it was sent: Redis runs it when the pause ends
  CHECK(elapsed >= 90);
  CHECK(elapsed < 100 + 150);
  CHECK(counters.timeouts.load() >= 1);
  // After the pause the link serves again (late replies to abandoned calls are dropped).
  drive([] { return false; }, 900ms);
  bool recovered = false;
  drive(
      [&] {
        recovered = call({"PING"}).str == "PONG";
        return recovered;
      },
      3000ms);
  CHECK(recovered);
  CHECK(call({"ECHO", "in order"}).str == "in order");
}

TEST_CASE_METHOD(link_fixture, "a call that never left for a stopped Redis is not unknown") {
  test::test_redis redis;
  open(redis.unix_url(), 100ms);
  wait_ready();
  redis.stop();
  drive([] { return false; }, 300ms); // the link sees its connections close
  // Whether the breaker refuses it or no connection takes it, it was never written.
  auto reply = call({"SET", "x", "1"});
  INFO(reply.str);
  CHECK(reply.is_unavailable());
  CHECK_FALSE(reply.outcome_unknown());
}

TEST_CASE_METHOD(link_fixture, "AUTH with an ACL user") {
  test::test_redis redis;
  REQUIRE(redis.cli({"ACL", "SETUSER", "baton", "on", ">s3cret", "~*", "+@all"}) == "OK");
  SECTION("right password") {
    open(redis.unix_url(), 100ms, {}, "baton", "s3cret");
    CHECK(call({"ACL", "WHOAMI"}).str == "baton");
  }
  SECTION("wrong password") {
    open(redis.unix_url(), 100ms, {}, "baton", "wrong");
    drive([&] { return !pool->status().last_error.empty(); }, 2000ms);
    CHECK(pool->status().last_error.find("AUTH failed: WRONGPASS") != std::string::npos);
    CHECK(call({"PING"}).is_unavailable());
  }
}

namespace {
// A CA and a server certificate for localhost, made with the openssl CLI.
void make_certificates(const test::temp_dir& dir, const std::string& name) {
  auto f = [&](const std::string& file) { return dir.file(name + "-" + file); };
  std::string script = "set -e; cd " + dir.path() +
                       ";"
                       "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" +
                       name + "-ca -keyout " + f("ca.key") + " -out " + f("ca.crt") +
                       " >/dev/null 2>&1;"
                       "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout " +
                       f("server.key") + " -out " + f("server.csr") +
                       " >/dev/null 2>&1;"
                       "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > " +
                       f("ext.cnf") +
                       ";"
                       "openssl x509 -req -in " +
                       f("server.csr") + " -CA " + f("ca.crt") + " -CAkey " + f("ca.key") +
                       " -CAcreateserial -days 2 -extfile " + f("ext.cnf") + " -out " +
                       f("server.crt") + " >/dev/null 2>&1";
  std::string output;
  REQUIRE(test::run_command("bash -c \"" + script + "\"", &output) == 0);
}
} // namespace

TEST_CASE_METHOD(link_fixture, "TLS to a redis-server with a test certificate") {
  test::temp_dir certs;
  make_certificates(certs, "good");
  make_certificates(certs, "other");
  auto tls_port = test::free_port();
  test::test_redis redis({"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                          certs.file("good-server.crt"), "--tls-key-file",
                          certs.file("good-server.key"), "--tls-ca-cert-file",
                          certs.file("good-ca.crt"), "--tls-auth-clients", "no"});
  auto url = "rediss://127.0.0.1:" + std::to_string(tls_port);
  SECTION("the right CA verifies the server") {
    tls_options tls;
    tls.ca_file = certs.file("good-ca.crt");
    tls.server_name = "localhost";
    open(url, 500ms, tls);
    CHECK(call({"PING"}).str == "PONG");
    CHECK(script("time").kind == reply_kind::array);
  }
  SECTION("a server signed by another CA is refused") {
    tls_options tls;
    tls.ca_file = certs.file("other-ca.crt");
    tls.server_name = "localhost";
    open(url, 200ms, tls);
    drive([&] { return !pool->status().last_error.empty(); }, 2000ms);
    CHECK(pool->status().last_error.find("connect failed") != std::string::npos);
    CHECK(call({"PING"}).is_unavailable());
  }
}
