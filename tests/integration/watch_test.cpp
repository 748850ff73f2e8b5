// LEASE WATCH and ELECT WATCH through real daemons on a real redis-server: pushes for
// acquired, released and expired from another daemon; `lost` to a KEEP holder before its
// safe validity ends while Redis is paused; RESP2 watch mode; leader pushes with terms.
#include <catch2/catch.hpp>

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
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Reads until a push arrives (RESP3 interleaves them with replies); replies read on the way
/// are dropped. Throws when nothing arrives in the client's timeout.
resp_value next_push(resp_client& c) {
  for (;;) {
    auto r = c.read();
    if (r.kind == resp_value::type::push) return r;
  }
}

/// ["lease", event, name, token, node] as "event name node", and the token.
std::string describe(const resp_value& push) {
  std::string text;
  for (std::size_t i = 0; i < push.elements.size(); ++i) {
    if (i == 3 && push.elements[0].str == "lease") continue; // the token, checked apart
    if (!text.empty()) text += ' ';
    text += push.elements[i].kind == resp_value::type::integer
                ? std::to_string(push.elements[i].integer)
                : push.elements[i].str;
  }
  return text;
}

std::unique_ptr<resp_client> resp3_client(const std::string& socket) {
  auto c = std::make_unique<resp_client>(socket);
  auto hello = c->call({"HELLO", "3"});
  REQUIRE(hello.kind == resp_value::type::map);
  return c;
}

} // namespace

TEST_CASE("LEASE WATCH: acquired, released and expired on another daemon are pushed",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  auto watcher_ptr = resp3_client(a.socket_path());
  auto& watcher = *watcher_ptr;
  auto watching = watcher.call({"LEASE", "WATCH", "jobs", "other"});
  REQUIRE(watching.integer == 2);

  resp_client holder(b.socket_path());
  auto first = holder.call({"LEASE", "ACQUIRE", "jobs", "10000"});
  auto token = field(first, "token");
  auto acquired = next_push(watcher);
  CHECK(describe(acquired) == "lease acquired jobs b");
  CHECK(acquired.elements[3].integer == token);

  REQUIRE(holder.call({"LEASE", "RELEASE", "jobs", std::to_string(token)}).str == "OK");
  auto released = next_push(watcher);
  CHECK(describe(released) == "lease released jobs b");
  CHECK(released.elements[3].integer == token);

  // A holder that lets its lease run out: nothing is announced, the watcher checks at the end.
  auto short_lived = holder.call({"LEASE", "ACQUIRE", "jobs", "300"});
  auto short_token = field(short_lived, "token");
  CHECK(describe(next_push(watcher)) == "lease acquired jobs b");
  auto start = clock_type::now();
  auto expired = next_push(watcher);
  auto took = clock_type::now() - start;
  CHECK(describe(expired) == "lease expired jobs b");
  CHECK(expired.elements[3].integer == short_token);
  CHECK(took >= 250ms);
  CHECK(took < 1500ms);

  // Commands still work on a RESP3 connection that watches, and UNWATCH counts down.
  CHECK(watcher.call({"LEASE", "INFO", "jobs"}).kind == resp_value::type::null);
  CHECK(watcher.call({"LEASE", "UNWATCH", "jobs"}).integer == 1);
  CHECK(watcher.call({"LEASE", "UNWATCH"}).integer == 0);
  holder.call({"LEASE", "ACQUIRE", "jobs", "10000"});
  CHECK(watcher.call({"PING"}).str == "PONG"); // and no push came before this reply
}

TEST_CASE("LEASE WATCH on RESP2: watch mode takes only watch commands, pushes are arrays",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  resp_client watcher(a.socket_path());
  CHECK(watcher.call({"LEASE", "WATCH", "jobs"}).integer == 1);
  auto refused = watcher.call({"LEASE", "INFO", "jobs"});
  REQUIRE(refused.is_error());
  CHECK(refused.str.find("watch mode") != std::string::npos);
  auto pong = watcher.call({"PING"}); // as Redis answers in subscribe mode
  CHECK(pong.to_string().find("pong") != std::string::npos);

  resp_client holder(a.socket_path());
  auto token = field(holder.call({"LEASE", "ACQUIRE", "jobs", "10000"}), "token");
  auto pushed = watcher.read();
  REQUIRE(pushed.kind == resp_value::type::array);
  CHECK(describe(pushed) == "lease acquired jobs a");
  CHECK(pushed.elements[3].integer == token);

  // The holder's connection closes: released at once, and pushed.
  holder.call({"QUIT"});
  auto released = watcher.read();
  CHECK(describe(released) == "lease released jobs a");

  CHECK(watcher.call({"LEASE", "UNWATCH"}).integer == 0);
  CHECK(watcher.call({"LEASE", "INFO", "jobs"}).kind == resp_value::type::null);
}

TEST_CASE("a KEEP holder hears lost before its safe validity ends when Redis stalls") {
  test::test_redis redis;
  test::test_batond a(redis.unix_url(), {"--node-id", "a"});
  auto holder_ptr = resp3_client(a.socket_path());
  auto& holder = *holder_ptr;
  resp_client watcher(a.socket_path()); // RESP2, watch mode
  REQUIRE(watcher.call({"LEASE", "WATCH", "jobs"}).integer == 1);
  constexpr auto ttl = 2000ms;
  constexpr auto drift = 10ms; // runtime.drift_margin_ms default
  auto sent = clock_type::now();
  auto reply = holder.call({"LEASE", "ACQUIRE", "jobs", "2000", "KEEP"});
  auto token = field(reply, "token");
  // Redis stalls before the first renewal (at ttl/3): the lease's safe validity ends at
  // the acquire's send + ttl - drift, and `sent` is no later than that send.
  redis.pause();
  auto lost = next_push(holder);
  auto arrived = clock_type::now();
  redis.resume();
  CHECK(describe(lost) == "lease lost jobs a");
  CHECK(lost.elements[3].integer == token);
  CHECK(arrived < sent + ttl - drift);
  CHECK(arrived > sent + ttl / 2); // retries first: lost only when time is short
  auto renew = holder.call({"LEASE", "RENEW", "jobs", std::to_string(token)});
  REQUIRE(renew.is_error());
  CHECK(renew.str.rfind("LOST", 0) == 0);
  CHECK(describe(watcher.read()) == "lease acquired jobs a");
  CHECK(describe(watcher.read()) == "lease lost jobs a");
}

TEST_CASE("a KEEP lease declared lost is given back when Redis comes back, renewed or not") {
  // Redis stalls with a keeper's renewal on its way; the holder hears lost while the lease is
  // still valid in Redis. When Redis wakes it runs the renewal, which extends the lease under
  // the lost token: unless batond gives it back, nobody can take the name for another TTL.
  // Woken at once (the renewal lands, answered), or after the renewal's own deadline (by
  // then the lease lapsed in Redis, and the renewal finds it expired).
  auto stalled_for = GENERATE(0ms, 4000ms);
  CAPTURE(stalled_for.count());
  test::test_redis redis;
  test::test_batond a(redis.unix_url(), {"--node-id", "a"});
  auto holder_ptr = resp3_client(a.socket_path());
  auto& holder = *holder_ptr;
  constexpr auto ttl = 4000ms;
  auto token = field(holder.call({"LEASE", "ACQUIRE", "jobs", "4000", "KEEP"}), "token");
  std::this_thread::sleep_for(ttl / 4); // the first renewal (from ttl/6) answered
  redis.pause();
  auto lost = next_push(holder);
  CHECK(describe(lost) == "lease lost jobs a");
  CHECK(lost.elements[3].integer == token);
  std::this_thread::sleep_for(stalled_for);
  redis.resume();
  auto resumed = clock_type::now();
  resp_client other(a.socket_path());
  CHECK(test::eventually(
      [&] { return other.call({"LEASE", "ACQUIRE", "jobs", "4000"}).kind ==
                   resp_value::type::array; },
      10000));
  // Free as soon as Redis answers: well before a renewed TTL would have ended.
  CHECK(clock_type::now() - resumed < ttl * 3 / 4); // a renewed lease would hold ~ttl
}

TEST_CASE("the connection whose KEEP lease was lost does not get it back under the lost token") {
  // After the verdict the keeper gives the lease back, and a give-back may still be on its
  // way when the holder's connection acquires again: had Redis (renewed late) answered that
  // ACQUIRE with the old token, the give-back would delete the lease under its new holder.
  // Shown by putting the lease back in Redis as a late renewal leaves it.
  test::test_redis redis;
  test::test_batond a(redis.unix_url(), {"--node-id", "a"});
  auto holder_ptr = resp3_client(a.socket_path());
  auto& holder = *holder_ptr;
  auto token = field(holder.call({"LEASE", "ACQUIRE", "jobs", "4000", "KEEP"}), "token");
  resp_client direct(redis.socket_path());
  auto key = direct.call({"KEYS", "*lease:{jobs}"});
  REQUIRE(key.elements.size() == 1);
  auto hash = direct.call({"HGETALL", key.elements[0].str}); // as granted
  redis.pause();
  CHECK(describe(next_push(holder)) == "lease lost jobs a");
  redis.resume();
  REQUIRE(test::eventually(
      [&] { return direct.call({"EXISTS", key.elements[0].str}).integer == 0; }, 10000));
  // A renewal that landed after the give-back: the lease is back, valid for a while.
  std::vector<std::string> restore = {"HSET", key.elements[0].str};
  for (const auto& e : hash.elements)
    restore.push_back(e.kind == resp_value::type::integer ? std::to_string(e.integer) : e.str);
  auto now_us = [&] {
    auto t = direct.call({"TIME"});
    return std::stoll(t.elements[0].str) * 1000000 + std::stoll(t.elements[1].str);
  };
  for (std::size_t i = 2; i + 1 < restore.size(); i += 2)
    if (restore[i] == "valid_until") restore[i + 1] = std::to_string(now_us() + 4000000);
  direct.call(restore);
  direct.call({"PEXPIRE", key.elements[0].str, "4000"});

  auto again = holder.call({"LEASE", "ACQUIRE", "jobs", "4000", "KEEP"});
  if (again.is_error()) {
    CHECK(again.str.rfind("UNAVAILABLE", 0) == 0);
    CHECK(again.str.find("acquire it again") != std::string::npos);
    again = holder.call({"LEASE", "ACQUIRE", "jobs", "4000", "KEEP"});
  }
  REQUIRE(!again.is_error());
  CHECK(field(again, "token") > token); // a new token, which no give-back can take
  resp_client other(a.socket_path());
  CHECK(other.call({"LEASE", "INFO", "jobs"}).elements.at(7).integer == field(again, "token"));
}

TEST_CASE("ELECT WATCH: the leader now, then every new leader with its term, and vacancies",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  test::test_batond b(redis.url(), {"--node-id", "b"});
  auto watcher_ptr = resp3_client(a.socket_path());
  auto& watcher = *watcher_ptr;
  REQUIRE(watcher.call({"ELECT", "WATCH", "billing"}).integer == 1);
  CHECK(describe(next_push(watcher)) == "elect vacant billing 0  ");

  resp_client first(b.socket_path());
  auto term1 = field(first.call({"ELECT", "JOIN", "billing", "worker-1"}), "term");
  CHECK(describe(next_push(watcher)) ==
        "elect leader billing " + std::to_string(term1) + " worker-1 b");

  // A second watcher joining now is told the current leader first.
  resp_client late(b.socket_path());
  REQUIRE(late.call({"ELECT", "WATCH", "billing"}).integer == 1);
  CHECK(describe(late.read()) == "elect leader billing " + std::to_string(term1) + " worker-1 b");

  resp_client second(a.socket_path());
  second.send({"ELECT", "JOIN", "billing", "worker-2"});
  std::this_thread::sleep_for(50ms);
  REQUIRE(first.call({"ELECT", "RESIGN", "billing"}).str == "OK");
  auto term2 = field(second.read(), "term");
  CHECK(term2 > term1);
  CHECK(describe(next_push(watcher)) ==
        "elect vacant billing " + std::to_string(term1) + " worker-1 b");
  CHECK(describe(next_push(watcher)) ==
        "elect leader billing " + std::to_string(term2) + " worker-2 a");
  CHECK(describe(late.read()) == "elect vacant billing " + std::to_string(term1) + " worker-1 b");
  CHECK(describe(late.read()) == "elect leader billing " + std::to_string(term2) + " worker-2 a");
}

TEST_CASE("WATCH bad input: clear errors, nothing watched", "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url());
  resp_client c(a.socket_path());
  auto bad = c.call({"LEASE", "WATCH", "ok", "has space"});
  REQUIRE(bad.is_error());
  CHECK(bad.str.find("has space") != std::string::npos);
  CHECK(c.call({"LEASE", "WATCH"}).is_error()); // arity
  CHECK(c.call({"ELECT", "WATCH", std::string(1000, 'g')}).is_error());
  // Nothing was watched: the connection is not in watch mode.
  CHECK(c.call({"LEASE", "INFO", "ok"}).kind == resp_value::type::null);
  CHECK(c.call({"LEASE", "UNWATCH", "never-watched"}).integer == 0);
}

TEST_CASE("WATCH with Redis down answers UNAVAILABLE: a watch outlives a Redis restart") {
  test::test_redis redis;
  test::test_batond a(redis.unix_url(), {"--node-id", "a"});
  auto watcher_ptr = resp3_client(a.socket_path());
  auto& watcher = *watcher_ptr;
  REQUIRE(watcher.call({"LEASE", "WATCH", "jobs"}).integer == 1);

  redis.kill();
  resp_client late(a.socket_path());
  auto start = clock_type::now();
  std::this_thread::sleep_for(100ms); // the link notices
  auto refused = late.call({"LEASE", "WATCH", "other"});
  CHECK(refused.str.rfind("UNAVAILABLE", 0) == 0);
  CHECK(clock_type::now() - start < 2s);
  CHECK(late.call({"LEASE", "INFO", "x"}).is_error()); // not in watch mode: an ordinary reply

  redis.start();
  resp_client holder(a.socket_path());
  REQUIRE(test::eventually(
      [&] {
        auto r = holder.call({"LEASE", "ACQUIRE", "jobs", "10000"});
        return r.kind == resp_value::type::array;
      },
      5000));
  // The event connection subscribed again; the grant is pushed (or, if it came before the
  // resubscription, read when the watch caught up, and pushed then).
  CHECK(describe(next_push(watcher)) == "lease acquired jobs a");
}

TEST_CASE("SUBSCRIBE lease:<name> and elect:<group>: Redis pub/sub replies and messages",
          "[portable]") {
  test::test_backend redis;
  test::test_batond a(redis.url(), {"--node-id", "a"});
  resp_client sub(a.socket_path());
  sub.send({"SUBSCRIBE", "lease:jobs", "elect:billing"});
  auto first = sub.read();
  auto second = sub.read();
  REQUIRE(first.elements.size() == 3);
  CHECK(first.elements[0].str == "subscribe");
  CHECK(first.elements[1].str == "lease:jobs");
  CHECK(first.elements[2].integer == 1);
  CHECK(second.elements[1].str == "elect:billing");
  CHECK(second.elements[2].integer == 2);
  auto vacant = sub.read();                         // a group's subscriber hears who leads it now
  CHECK(vacant.elements.at(2).str == "vacant 0  "); // no term, node or candidate

  resp_client worker(a.socket_path());
  auto token = field(worker.call({"LEASE", "ACQUIRE", "jobs", "10000"}), "token");
  auto message = sub.read();
  REQUIRE(message.elements.size() == 3);
  CHECK(message.elements[0].str == "message");
  CHECK(message.elements[1].str == "lease:jobs");
  CHECK(message.elements[2].str == "acquired " + std::to_string(token) + " a");
  auto term = field(worker.call({"ELECT", "JOIN", "billing", "worker one"}), "term");
  CHECK(sub.read().elements.at(2).str == "leader " + std::to_string(term) + " a worker one");

  CHECK(sub.call({"LEASE", "INFO", "jobs"}).is_error()); // watch mode
  auto refused = sub.call({"SUBSCRIBE", "news"});
  CHECK(refused.is_error());
  sub.send({"UNSUBSCRIBE"});
  CHECK(sub.read().elements.at(0).str == "unsubscribe");
  CHECK(sub.read().elements.at(2).integer == 0);
  CHECK(sub.call({"LEASE", "INFO", "jobs"}).kind == resp_value::type::array);
}
