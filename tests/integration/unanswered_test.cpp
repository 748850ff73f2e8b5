// An answer is never ambiguous: a call whose budget ran out while Redis may still run it is
// resolved before the client hears UNAVAILABLE. Redis is stopped (SIGSTOP) with the call in
// its socket buffer, so it runs the call after the daemon gave up on it: without the clean-up
// the grant or claim would stand for its whole TTL (a minute here), with nobody holding it.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

namespace {

struct paused_redis {
  test::test_redis redis;
  test::temp_dir dir;
  std::unique_ptr<test::test_batond> daemon;

  paused_redis() {
    std::ofstream(dir.file("c.yaml")) << "redis: {call_timeout_ms: 100}\n";
    daemon = std::make_unique<test::test_batond>(
        redis.unix_url(), std::vector<std::string>{"--config", dir.file("c.yaml")});
  }
  // Runs `call` while Redis is stopped, then lets Redis run what it received.
  resp_value while_stopped(resp_client& c, const std::vector<std::string>& args) {
    redis.pause();
    auto reply = c.call(args);
    std::this_thread::sleep_for(300ms);
    redis.resume();
    return reply;
  }
};

} // namespace

TEST_CASE("a LEASE ACQUIRE that Redis runs after the budget leaves no grant behind") {
  paused_redis t;
  resp_client a(t.daemon->socket_path()), b(t.daemon->socket_path());
  auto reply = t.while_stopped(a, {"LEASE", "ACQUIRE", "job", "60000"});
  INFO(reply.str);
  CHECK(reply.str.rfind("UNAVAILABLE redis did not answer in time", 0) == 0);
  CHECK(reply.str.find("the lease is not yours") != std::string::npos);
  // Redis ran the acquire once it could, and the abandon after it: the name is free at once,
  // not in a minute.
  CHECK(test::eventually(
      [&] {
        return t.redis.cli({"EXISTS", "baton:lease:{job}"}) == "0";
      },
      5000));
  CHECK(test::eventually(
      [&] {
        return field(b.call({"LEASE", "ACQUIRE", "job", "5000"}), "token") > 0;
      },
      5000));
}

TEST_CASE("a re-acquire that times out keeps the grant the connection already had") {
  paused_redis t;
  resp_client a(t.daemon->socket_path());
  auto token = field(a.call({"LEASE", "ACQUIRE", "job", "60000"}), "token");
  REQUIRE(token > 0);
  auto reply = t.while_stopped(a, {"LEASE", "ACQUIRE", "job", "60000"});
  CHECK(reply.str.find("the lease is still yours under token " + std::to_string(token)) !=
        std::string::npos);
  std::this_thread::sleep_for(300ms);
  CHECK(t.redis.cli({"HGET", "baton:lease:{job}", "token"}) == std::to_string(token));
  CHECK(a.call({"LEASE", "RELEASE", "job", std::to_string(token)}).str == "OK");
}

TEST_CASE("a LEASE RENEW that times out says the lease stands until its earlier end") {
  paused_redis t;
  resp_client a(t.daemon->socket_path());
  auto token = field(a.call({"LEASE", "ACQUIRE", "job", "60000"}), "token");
  REQUIRE(token > 0);
  auto reply = t.while_stopped(a, {"LEASE", "RENEW", "job", std::to_string(token), "120000"});
  INFO(reply.str);
  CHECK(reply.str.rfind("UNAVAILABLE redis did not answer in time", 0) == 0);
  CHECK(reply.str.find("the lease is still yours under token " + std::to_string(token) + " for ") !=
        std::string::npos);
  // It is: the next renewal goes through under the same token.
  CHECK(field(a.call({"LEASE", "RENEW", "job", std::to_string(token)}), "token") == token);
}

TEST_CASE("a DEDUP CLAIM that Redis runs after the budget leaves no claim behind") {
  paused_redis t;
  resp_client a(t.daemon->socket_path()), b(t.daemon->socket_path());
  auto reply = t.while_stopped(a, {"DEDUP", "CLAIM", "order-9", "60000"});
  INFO(reply.str);
  CHECK(reply.str.rfind("UNAVAILABLE redis did not answer in time", 0) == 0);
  CHECK(reply.str.find("nothing is claimed") != std::string::npos);
  // A retry claims it now, rather than hearing `pending` for a minute.
  CHECK(test::eventually(
      [&] {
        return text_field(b.call({"DEDUP", "CLAIM", "order-9", "60000"}), "status") == "new";
      },
      5000));
}

TEST_CASE("a SESSION RESUME that Redis runs after the budget can be sent again for its answer") {
  test::test_redis redis;
  test::temp_dir dir;
  std::ofstream(dir.file("k.hex")) << std::string(64, 'a') << "\n";
  std::ofstream(dir.file("s.yaml"))
      << "redis: {call_timeout_ms: 100}\n"
      << "secrets:\n  keks:\n    - {id: k1, file: " << dir.file("k.hex") << "}\n";
  test::test_batond a(redis.unix_url(), {"--node-id", "a", "--config", dir.file("s.yaml")});
  test::test_batond b(redis.unix_url(), {"--node-id", "b", "--config", dir.file("s.yaml")});
  resp_client ca(a.socket_path()), cb(b.socket_path());
  auto opened = ca.call({"SESSION", "OPEN", "alice", "60000"});
  auto token = text_field(opened, "token");
  REQUIRE(field(ca.call({"SESSION", "STATE", text_field(opened, "id"), "SET", "cart=2"}),
                "state_version") == 1);
  // Redis stopped with the resume in its buffer: the daemon cannot know whether it happened.
  redis.pause();
  auto lost = cb.call({"SESSION", "RESUME", token});
  std::this_thread::sleep_for(300ms);
  redis.resume();
  INFO(lost.str);
  CHECK(lost.str.rfind("UNKNOWN redis did not answer in time", 0) == 0);
  // Redis ran it meanwhile (the nonce is spent); the same RESUME is answered as the first was.
  auto again = cb.call({"SESSION", "RESUME", token});
  INFO(again.str);
  CHECK(text_field(again, "owner") == "b");
  CHECK(text_field(again, "state") == "cart=2");
  auto next = text_field(again, "token");
  CHECK(!next.empty());
  // Once answered, the token is spent: a replay is refused, and the next token works.
  CHECK(cb.call({"SESSION", "RESUME", token}).str.rfind("REFUSED", 0) == 0);
  CHECK(text_field(cb.call({"SESSION", "RESUME", next}), "owner") == "b");
}
