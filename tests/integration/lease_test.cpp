// Leases through real batond processes against a real redis-server: mutual exclusion across
// daemons, tokens that only grow, release when the holder's connection closes, expiry after
// a daemon dies, lock-delay, KEEP, a paused holder fenced out, Redis down, and bad input.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
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

bool granted(const resp_value& r) {
  return r.kind == resp_value::type::array;
}

// The resource the lease protects: it accepts a write only with a token at least as high as
// any it has seen, the way a storage service checks fencing tokens.
class fenced_store {
public:
  bool write(std::int64_t token) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (token < highest_) return false;
    highest_ = token;
    return true;
  }

private:
  std::mutex mutex_;
  std::int64_t highest_ = 0;
};

} // namespace

TEST_CASE("two daemons, many clients: one holder at a time, tokens only grow", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  std::atomic<int> inside{0}, most_inside{0}, grants{0};
  std::mutex order_mutex;
  std::int64_t last_token = 0;
  bool tokens_grew = true;
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      resp_client c(i % 2 ? a.socket_path() : b.socket_path());
      auto until = std::chrono::steady_clock::now() + 1500ms;
      while (std::chrono::steady_clock::now() < until) {
        auto r = c.call({"LEASE", "ACQUIRE", "mutex", "5000"});
        if (!granted(r)) continue;
        auto token = field(r, "token");
        int now_inside = ++inside;
        most_inside = std::max(most_inside.load(), now_inside);
        {
          std::lock_guard<std::mutex> guard(order_mutex);
          tokens_grew = tokens_grew && token > last_token;
          last_token = token;
        }
        ++grants;
        std::this_thread::sleep_for(1ms);
        --inside;
        c.call({"LEASE", "RELEASE", "mutex", std::to_string(token)});
      }
    });
  }
  for (auto& t : clients)
    t.join();
  CHECK(most_inside.load() == 1);
  CHECK(tokens_grew);
  CHECK(grants.load() > 20);
}

TEST_CASE("a holder's closed connection releases its lease at once", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  auto holder = std::make_unique<resp_client>(a.socket_path());
  auto first = holder->call({"LEASE", "ACQUIRE", "job", "60000", "META", "nightly"});
  REQUIRE(granted(first));
  resp_client other(b.socket_path());
  auto denied = other.call({"LEASE", "ACQUIRE", "job", "60000"});
  REQUIRE(denied.is_error());
  CHECK(denied.str.rfind("DENIED lease 'job' is held by node a", 0) == 0);
  auto info = other.call({"LEASE", "INFO", "job"});
  CHECK(info.elements.at(1).str == "held");
  CHECK(info.elements.at(11).str == "nightly");
  holder.reset(); // the client process is gone
  auto t = std::chrono::steady_clock::now();
  CHECK(test::eventually(
      [&] {
        return granted(other.call({"LEASE", "ACQUIRE", "job", "60000"}));
      },
      2000));
  CHECK(std::chrono::steady_clock::now() - t < 1000ms); // not after the 60 s TTL
}

TEST_CASE("a daemon killed with -9 loses its leases after the TTL, then lock-delay", "[portable]") {
  test::test_backend redis;
  test::temp_dir dir;
  std::ofstream(dir.file("delay.yaml")) << "leases: {lock_delay_ms: 600}\n";
  auto a = std::make_unique<test::test_batond>(
      redis.url(), std::vector<std::string>{"--node-id", "a", "--config", dir.file("delay.yaml")});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client holder(a->socket_path());
  auto before_grant = std::chrono::steady_clock::now(); // Redis starts the clock after this
  REQUIRE(granted(holder.call({"LEASE", "ACQUIRE", "job", "400"})));
  a->kill();
  resp_client other(b.socket_path());
  CHECK(other.call({"LEASE", "ACQUIRE", "job", "5000"}).str.find("is held by node a") !=
        std::string::npos);
  std::this_thread::sleep_for(500ms);
  auto during = other.call({"LEASE", "ACQUIRE", "job", "5000"});
  CHECK(during.str.find("is in lock-delay") != std::string::npos);
  CHECK(test::eventually(
      [&] {
        return granted(other.call({"LEASE", "ACQUIRE", "job", "5000"}));
      },
      3000));
  // ttl 400 + lock-delay 600, counted by Redis' clock: PEXPIRE works in whole milliseconds of
  // Redis' wall clock, which may run a few ms apart from this process' steady clock (CI saw
  // 1.04 s for the whole test including start-up), so allow 50 ms; a lost lock-delay would
  // grant at 400 ms.
  auto waited = std::chrono::steady_clock::now() - before_grant;
  INFO("granted after " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                        << " ms");
  CHECK(waited >= 950ms);
}

TEST_CASE("KEEP renews for as long as the connection is open", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  auto keeper = std::make_unique<resp_client>(a.socket_path());
  auto first = keeper->call({"LEASE", "ACQUIRE", "leader", "1000", "KEEP"});
  REQUIRE(granted(first));
  std::this_thread::sleep_for(3500ms); // three and a half TTLs (ttl 1 s: room for a loaded CI)
  resp_client other(a.socket_path());
  CHECK(other.call({"LEASE", "ACQUIRE", "leader", "1000"}).str.rfind("DENIED", 0) == 0);
  auto info = other.call({"LEASE", "INFO", "leader"});
  CHECK(info.elements.at(7).integer == field(first, "token")); // same token all along
  CHECK(info.elements.at(9).integer > 0);
  keeper.reset();
  CHECK(test::eventually(
      [&] {
        return granted(other.call({"LEASE", "ACQUIRE", "leader", "1000"}));
      },
      1000));
}

TEST_CASE("a paused holder cannot use its old token: the fenced store refuses it", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  fenced_store store;
  int to_parent[2];
  REQUIRE(::pipe(to_parent) == 0);
  pid_t child = ::fork();
  if (child == 0) {
    // The holder: takes the lease, then is paused (GC, swap, SIGSTOP) past its TTL.
    std::int64_t token = 0;
    std::string renew_reply = "none";
    try {
      resp_client c(a.socket_path());
      token = field(c.call({"LEASE", "ACQUIRE", "store", "300"}), "token");
      (void)!::write(to_parent[1], &token, sizeof(token));
      ::raise(SIGSTOP);
      renew_reply = c.call({"LEASE", "RENEW", "store", std::to_string(token)}).str;
    } catch (...) {
    }
    // Tells the parent its token again (it will try to write with it) and what RENEW said.
    (void)!::write(to_parent[1], &token, sizeof(token));
    (void)!::write(to_parent[1], renew_reply.data(), renew_reply.size());
    ::_exit(0);
  }
  std::int64_t old_token = 0;
  REQUIRE(::read(to_parent[0], &old_token, sizeof(old_token)) == sizeof(old_token));
  REQUIRE(store.write(old_token));
  int status = 0;
  REQUIRE(::waitpid(child, &status, WUNTRACED) == child);
  REQUIRE(WIFSTOPPED(status));
  // While it sleeps, its lease runs out and another client takes over and writes.
  resp_client other(b.socket_path());
  REQUIRE(test::eventually(
      [&] {
        auto r = other.call({"LEASE", "ACQUIRE", "store", "5000"});
        if (!granted(r)) return false;
        CHECK(field(r, "token") > old_token);
        CHECK(store.write(field(r, "token")));
        return true;
      },
      3000));
  ::kill(child, SIGCONT);
  std::int64_t retry_token = 0;
  REQUIRE(::read(to_parent[0], &retry_token, sizeof(retry_token)) == sizeof(retry_token));
  char text[256] = {};
  (void)!::read(to_parent[0], text, sizeof(text) - 1);
  ::waitpid(child, nullptr, 0);
  CHECK_FALSE(store.write(retry_token));          // the store refuses the paused holder
  CHECK(std::string(text).rfind("LOST", 0) == 0); // and batond tells it the lease is lost
}

TEST_CASE("with Redis down no lease is granted, within the budget") {
  test::test_redis redis;
  test::test_batond a(redis.unix_url());
  resp_client c(a.socket_path());
  redis.kill();
  auto t = std::chrono::steady_clock::now();
  auto r = c.call({"LEASE", "ACQUIRE", "job", "5000"});
  CHECK(r.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t < 250ms + 150ms);
}

TEST_CASE("bad lease input: clear errors and no state change", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  resp_client c(a.socket_path());
  auto expect_error = [&](std::vector<std::string> args, const std::string& start) {
    auto r = c.call(args);
    INFO(r.str);
    CHECK(r.is_error());
    CHECK(r.str.rfind(start, 0) == 0);
  };
  expect_error({"LEASE", "ACQUIRE", "job", "-5"}, "ERR ttl_ms must be a positive integer");
  expect_error({"LEASE", "ACQUIRE", "job", "0"}, "ERR ttl must be between");
  expect_error({"LEASE", "ACQUIRE", "job", "99999999999"}, "ERR ttl must be between");
  expect_error({"LEASE", "ACQUIRE", "job", "1e3"}, "ERR ttl_ms must be a positive integer");
  expect_error({"LEASE", "ACQUIRE", "", "1000"}, "ERR lease name must not be empty");
  expect_error({"LEASE", "ACQUIRE", std::string(300, 'n'), "1000"},
               "ERR lease name is longer than 256");
  expect_error({"LEASE", "ACQUIRE", "a{b}", "1000"}, "ERR lease name must not contain");
  expect_error({"LEASE", "ACQUIRE", "job", "1000", "FOREVER"}, "ERR syntax error near 'FOREVER'");
  expect_error({"LEASE", "ACQUIRE", "job", "1000", "WAIT", "soon"}, "ERR WAIT takes milliseconds");
  expect_error({"LEASE", "ACQUIRE", "job"}, "ERR wrong number of arguments for 'lease acquire'");
  expect_error({"LEASE", "RELEASE", "never", "12"}, "NOTHELD");
  expect_error({"LEASE", "RENEW", "never", "12"}, "NOTHELD");
  expect_error({"LEASE", "RENEW", "job", "abc"}, "ERR token must be an integer");
  expect_error({"LEASE", "STEAL", "job"}, "ERR unknown subcommand 'STEAL'");
  auto held = c.call({"LEASE", "ACQUIRE", "job", "10000"});
  REQUIRE(granted(held));
  auto token = field(held, "token");
  expect_error({"LEASE", "RELEASE", "job", std::to_string(token - 1)}, "NOTHELD");
  CHECK(c.call({"LEASE", "INFO", "job"}).elements.at(7).integer == token); // unchanged
  CHECK(c.call({"LEASE", "RELEASE", "job", std::to_string(token)}).str == "OK");
  CHECK(c.call({"LEASE", "INFO", "job"}).kind == resp_value::type::null);
}

TEST_CASE("RENEW extends, and the same connection acquiring again keeps its token", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  resp_client c(a.socket_path());
  auto first = c.call({"LEASE", "ACQUIRE", "job", "300"});
  REQUIRE(granted(first));
  auto token = field(first, "token");
  CHECK(field(first, "validity_ms") > 250);
  CHECK(field(first, "validity_ms") <= 300);
  auto again = c.call({"LEASE", "ACQUIRE", "job", "300"});
  CHECK(field(again, "token") == token);
  resp_client second(a.socket_path()); // another connection of the same node may renew
  auto renewed = second.call({"LEASE", "RENEW", "job", std::to_string(token), "5000"});
  REQUIRE(granted(renewed));
  CHECK(field(renewed, "validity_ms") > 4000);
  CHECK(second.call({"LEASE", "ACQUIRE", "job", "300"}).str.rfind("DENIED", 0) == 0);
}

TEST_CASE("thousands of KEEP leases are renewed in batches and all stay held") {
  test::test_redis redis;
  test::test_batond a(redis.unix_url());
  resp_client c(a.socket_path(), 20000);
  const int n = 10000;
  // Acquire in one pipeline; on a loaded machine a few may answer UNAVAILABLE (the caller's
  // budget is 250 ms): those are asked again, as a client would.
  std::vector<int> wanted(n);
  for (int i = 0; i < n; ++i)
    wanted[i] = i;
  for (int round = 0; round < 5 && !wanted.empty(); ++round) {
    std::string batch;
    for (int i : wanted)
      batch += resp_client::format({"LEASE", "ACQUIRE", "k" + std::to_string(i), "2000", "KEEP"});
    c.send_raw(batch);
    std::vector<int> again;
    for (int i : wanted) {
      auto r = c.read();
      if (!granted(r)) {
        REQUIRE(r.str.rfind("UNAVAILABLE", 0) == 0);
        again.push_back(i);
      }
    }
    wanted = again;
  }
  REQUIRE(wanted.empty());
  auto round_trips = [&] {
    std::string body;
    test::http_get(a.http_port(), "/metrics", &body);
    auto at = body.find("\nbaton_redis_round_trips_total ");
    return std::stoll(body.substr(at + 31));
  };
  auto before = round_trips();
  // Six renewal periods of ttl/3, two whole TTLs. The TTL leaves room for a loaded 2-core
  // CI machine stalling a few hundred ms while 10,000 leases are acquired.
  std::this_thread::sleep_for(4000ms);
  auto writes = round_trips() - before;
  INFO("redis writes in 4 s: " << writes);
  CHECK(writes < 200); // a few pipelined writes per tick, not one per lease

  protocol::resp_client direct(redis.socket_path());
  int held = 0;
  for (int i = 0; i < n; i += 50) // a sample, by Redis' own clock
    held += direct.call({"EXISTS", "baton:lease:{k" + std::to_string(i) + "}"}).integer;
  CHECK(held == n / 50);
}

// The chaos harness found that a clean stop used to release its clients' leases at once:
// another client got the lease while the first still held it by the validity it was given.
TEST_CASE("SIGTERM: a KEEP lease ends after its holder's notice, not at once nor after its TTL",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client holder(a.socket_path());
  REQUIRE(granted(holder.call({"LEASE", "ACQUIRE", "job", "60000", "KEEP"})));
  // A waiter on b that heard "held for 60 s" must not sleep that long.
  std::atomic<bool> waited{false};
  std::chrono::steady_clock::time_point granted_at;
  std::thread waiter([&] {
    resp_client other(b.socket_path());
    waited = granted(other.call({"LEASE", "ACQUIRE", "job", "5000", "WAIT", "10000"}));
    granted_at = std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(300ms); // the waiter is queued on b
  auto t = std::chrono::steady_clock::now();
  CHECK(a.stop() == 0);
  auto stopped_in = std::chrono::steady_clock::now() - t;
  CHECK(stopped_in < 2000ms);
  CHECK(holder.closed_by_peer());
  if (stopped_in < 600ms) { // still inside the holder's notice (1 s): nobody else has it
    resp_client probe(b.socket_path());
    CHECK(probe.call({"LEASE", "ACQUIRE", "job", "5000"}).str.rfind("DENIED", 0) == 0);
  }
  waiter.join();
  CHECK(waited);
  auto after = granted_at - t;
  INFO("granted " << std::chrono::duration_cast<std::chrono::milliseconds>(after).count()
                  << " ms after SIGTERM");
  CHECK(after >= 900ms); // the notice: 60 s / 10, at most 1 s
  CHECK(after < 4000ms); // not the 60 s TTL
}

TEST_CASE("SIGTERM: a lease taken without KEEP stays its holder's for the validity it got",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client holder(a.socket_path());
  auto t = std::chrono::steady_clock::now();
  auto held = holder.call({"LEASE", "ACQUIRE", "job", "2500"});
  REQUIRE(granted(held));
  CHECK(a.stop() == 0);
  resp_client other(b.socket_path());
  auto r = other.call({"LEASE", "ACQUIRE", "job", "5000", "WAIT", "10000"});
  auto after = std::chrono::steady_clock::now() - t;
  REQUIRE(granted(r));
  INFO("granted " << std::chrono::duration_cast<std::chrono::milliseconds>(after).count()
                  << " ms after the holder's acquire");
  CHECK(after >= std::chrono::milliseconds(field(held, "validity_ms")));
  CHECK(after < 4500ms); // at its end, without waiting for anything more
}

TEST_CASE("LEASE LIST names the leases held, by pattern", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  resp_client c(a.socket_path());
  for (auto name : {"job:a", "job:b", "cache:x"})
    REQUIRE(granted(c.call({"LEASE", "ACQUIRE", name, "10000"})));
  auto all = c.call({"LEASE", "LIST"});
  REQUIRE(all.elements.size() == 3);
  CHECK(all.elements[0].str == "cache:x");
  CHECK(all.elements[2].str == "job:b");
  auto jobs = c.call({"LEASE", "LIST", "job:*"});
  CHECK(jobs.elements.size() == 2);
  CHECK(c.call({"LEASE", "LIST", "nothing*"}).elements.empty());
  CHECK(c.call({"LEASE", "LIST", "a{b"}).str.rfind("ERR pattern must not contain", 0) == 0);
  CHECK(c.call({"LEASE", "LIST", "*", "extra"}).str.rfind("ERR wrong number", 0) == 0);
}

TEST_CASE("WAIT: woken by a release on another daemon, not by polling or the TTL", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client holder(a.socket_path());
  auto held = holder.call({"LEASE", "ACQUIRE", "job", "60000"});
  REQUIRE(granted(held));
  std::chrono::steady_clock::time_point released_at;
  std::thread releaser([&] {
    std::this_thread::sleep_for(300ms);
    released_at = std::chrono::steady_clock::now();
    holder.call({"LEASE", "RELEASE", "job", std::to_string(field(held, "token"))});
  });
  resp_client waiter(b.socket_path());
  auto r = waiter.call({"LEASE", "ACQUIRE", "job", "5000", "WAIT", "3000"});
  auto woke = std::chrono::steady_clock::now();
  releaser.join();
  REQUIRE(granted(r));
  CHECK(field(r, "token") > field(held, "token"));
  CHECK(woke - released_at < 200ms);
}

TEST_CASE("WAIT: a holder that dies silently is followed at its expiry", "[portable]") {
  test::test_backend redis;
  auto a =
      std::make_unique<test::test_batond>(redis.url(), std::vector<std::string>{"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client holder(a->socket_path());
  auto start = std::chrono::steady_clock::now();
  REQUIRE(granted(holder.call({"LEASE", "ACQUIRE", "job", "500"})));
  a->kill(); // no release is ever announced
  resp_client waiter(b.socket_path());
  auto r = waiter.call({"LEASE", "ACQUIRE", "job", "5000", "WAIT", "3000"});
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(granted(r));
  CHECK(took >= 450ms);
  CHECK(took < 1000ms);
}

TEST_CASE("WAIT: runs out with DENIED, and waiters are served in arrival order", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  resp_client holder(a.socket_path());
  auto held = holder.call({"LEASE", "ACQUIRE", "job", "60000"});
  REQUIRE(granted(held));
  resp_client impatient(b.socket_path());
  auto t = std::chrono::steady_clock::now();
  auto denied = impatient.call({"LEASE", "ACQUIRE", "job", "5000", "WAIT", "300"});
  CHECK(denied.str.rfind("DENIED lease 'job' is held by node a", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - t >= 290ms);

  std::vector<int> order;
  std::mutex order_mutex;
  auto wait_and_hold = [&](int id) {
    resp_client c(b.socket_path());
    auto r = c.call({"LEASE", "ACQUIRE", "job", "5000", "WAIT", "5000"});
    if (!granted(r)) return;
    {
      std::lock_guard<std::mutex> guard(order_mutex);
      order.push_back(id);
    }
    std::this_thread::sleep_for(50ms);
    c.call({"LEASE", "RELEASE", "job", std::to_string(field(r, "token"))});
  };
  std::thread first(wait_and_hold, 1);
  std::this_thread::sleep_for(100ms);
  std::thread second(wait_and_hold, 2);
  std::this_thread::sleep_for(100ms);
  std::thread third(wait_and_hold, 3);
  std::this_thread::sleep_for(100ms);
  holder.call({"LEASE", "RELEASE", "job", std::to_string(field(held, "token"))});
  first.join();
  second.join();
  third.join();
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("WAIT: a waiter that hangs up is dropped and takes nothing", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  resp_client holder(a.socket_path());
  auto held = holder.call({"LEASE", "ACQUIRE", "job", "60000"});
  REQUIRE(granted(held));
  {
    resp_client quitter(a.socket_path());
    quitter.send({"LEASE", "ACQUIRE", "job", "60000", "WAIT", "5000"});
    std::this_thread::sleep_for(100ms);
  } // hangs up while waiting
  std::this_thread::sleep_for(100ms);
  holder.call({"LEASE", "RELEASE", "job", std::to_string(field(held, "token"))});
  resp_client other(a.socket_path());
  CHECK(granted(other.call({"LEASE", "ACQUIRE", "job", "1000"})));
}

TEST_CASE("WAIT 0 and TIMEOUT 0 try once: a free lease or group is taken, a held one is DENIED",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  resp_client c(a.socket_path()), other(a.socket_path());
  // Before, a free lease answered "DENIED ... held by node  under token 0" without asking.
  auto token = field(c.call({"LEASE", "ACQUIRE", "x", "5000", "WAIT", "0"}), "token");
  CHECK(token > 0);
  auto denied = other.call({"LEASE", "ACQUIRE", "x", "5000", "WAIT", "0"});
  CHECK(denied.str.rfind("DENIED lease 'x' is held by node a", 0) == 0);
  CHECK(denied.str.find("under token " + std::to_string(token)) != std::string::npos);
  CHECK(field(c.call({"ELECT", "JOIN", "g", "c-1", "TIMEOUT", "0"}), "term") > 0);
  CHECK(other.call({"ELECT", "JOIN", "g", "c-2", "TIMEOUT", "0"}).str.rfind("DENIED", 0) == 0);
}
