// An answer is never ambiguous, verb by verb (see unanswered_test.cpp for ACQUIRE, CLAIM and
// RESUME): a state change Redis received but did not answer in time is retried once if it is
// idempotent, resolved if it can be, and otherwise answered UNKNOWN; one that never left
// (Redis down, the link's breaker open) is answered UNAVAILABLE. Redis holds the calls with
// CLIENT PAUSE, so it runs them after the daemon gave up on them: shorter than two budgets,
// the retry is answered; longer, neither is.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "protocol/resp_client.hpp"
#include "tests/integration/secret_fixture.hpp"
#include "tests/support/reply_fields.hpp"
#include "tests/support/test_batond.hpp"

using namespace baton;
using protocol::resp_client;
using protocol::resp_value;
using test::starts_with;
using test::field;
using test::text_field;
using namespace std::chrono_literals;

namespace {

// One call budget: the first attempt gives up at 300 ms, a retry at 600 ms.
constexpr const char* budget_ms = "300";
constexpr const char* answered_by_retry_ms = "450"; // paused past one budget, not two
constexpr const char* unanswered_ms = "1200";       // past both

struct unanswered_fixture {
  test::test_redis redis;
  test::temp_dir dir;
  std::unique_ptr<test::test_batond> daemon;
  std::unique_ptr<resp_client> c;

  // `secret_items`: the secrets section's items; REDIS in it is Redis' socket path.
  explicit unanswered_fixture(std::string secret_items = "") {
    if (auto at = secret_items.find("REDIS"); at != std::string::npos)
      secret_items.replace(at, 5, redis.socket_path());
    auto top = std::string("redis: {call_timeout_ms: ") + budget_ms + "}\n" +
               "rate:\n  policies:\n    - {name: p, windows: [{window_ms: 60000, limit: 5}]}\n" +
               "breakers:\n  default: {window: {calls: 4}, minimum_calls: 4, open_ms: 800, "
               "scope: fleet}\n";
    auto config = test::write_secret_config(dir, "c.yaml", secret_items, top);
    daemon = test::secret_daemon(redis, "a", config);
    c = std::make_unique<resp_client>(daemon->socket_path());
  }
  resp_value call(const std::vector<std::string>& args) { return c->call(args); }
  // Redis holds every client's commands for `ms`, then runs them.
  void pause_redis(const char* ms) { redis.cli({"CLIENT", "PAUSE", ms, "ALL"}); }
  // Redis gone: calls are refused before they are sent.
  void stop_redis() {
    redis.stop();
    std::this_thread::sleep_for(200ms); // the daemon sees its connections close
  }
  std::string open_session() {
    auto opened = call({"SESSION", "OPEN", "alice", "60000"});
    REQUIRE(!opened.is_error());
    return text_field(opened, "id");
  }
  std::string session_key(const std::string& id) { return "baton:session:{" + id + "}"; }
};

} // namespace

// -- SESSION OPEN: not idempotent (a new id each time); what it may have made is closed -------

TEST_CASE("an unanswered SESSION OPEN leaves no session behind and says none was opened") {
  unanswered_fixture t;
  t.pause_redis(unanswered_ms);
  auto reply = t.call({"SESSION", "OPEN", "alice", "60000"});
  INFO(reply.str);
  // The pause meets the open's reservation of a place under the caps (lua/session_index.lua)
  // or the open itself: either way nothing is opened, and the answer says so.
  CHECK(starts_with(reply, "UNAVAILABLE redis did not answer"));
  CHECK(reply.str.find("no session was opened") != std::string::npos);
  // Redis ran the open once it could, and the close after it.
  CHECK(test::eventually([&] { return t.redis.cli({"KEYS", "baton:session:{*"}).empty(); }, 5000));
}

TEST_CASE("a SESSION OPEN refused before it was sent answers UNAVAILABLE") {
  unanswered_fixture t;
  t.stop_redis();
  auto reply = t.call({"SESSION", "OPEN", "alice", "60000"});
  INFO(reply.str);
  CHECK(starts_with(reply, "UNAVAILABLE"));
}

// -- SESSION CLOSE and TOUCH: idempotent, retried once -------------------------------------

TEST_CASE("a SESSION CLOSE whose answer was lost is retried and answered") {
  unanswered_fixture t;
  auto id = t.open_session();
  t.pause_redis(answered_by_retry_ms);
  auto reply = t.call({"SESSION", "CLOSE", id});
  INFO(reply.to_string());
  CHECK(reply.kind == resp_value::type::integer);
  CHECK(reply.integer == 1); // the retry found it gone: the first closed it
  CHECK(t.redis.cli({"EXISTS", t.session_key(id)}) == "0");
}

TEST_CASE("a SESSION CLOSE unanswered twice answers UNKNOWN, and CLOSE again is safe") {
  unanswered_fixture t;
  auto id = t.open_session();
  t.pause_redis(unanswered_ms);
  auto reply = t.call({"SESSION", "CLOSE", id});
  INFO(reply.str);
  CHECK(starts_with(reply, "UNKNOWN redis did not answer in time"));
  CHECK(test::eventually([&] { return t.redis.cli({"EXISTS", t.session_key(id)}) == "0"; }, 5000));
  CHECK(test::eventually([&] { return !t.call({"SESSION", "CLOSE", id}).is_error(); }, 5000));
}

TEST_CASE("a SESSION CLOSE refused before it was sent answers UNAVAILABLE") {
  unanswered_fixture t;
  auto id = t.open_session();
  t.stop_redis();
  auto reply = t.call({"SESSION", "CLOSE", id});
  INFO(reply.str);
  CHECK(starts_with(reply, "UNAVAILABLE"));
}

TEST_CASE("a SESSION TOUCH whose answer was lost is retried, then answers UNKNOWN") {
  unanswered_fixture t;
  auto id = t.open_session();
  t.pause_redis(answered_by_retry_ms);
  auto touched = t.call({"SESSION", "TOUCH", id});
  INFO(touched.to_string());
  CHECK(field(touched, "ttl_ms") == 60000);
  std::this_thread::sleep_for(300ms); // the pause is over
  t.pause_redis(unanswered_ms);
  auto lost = t.call({"SESSION", "TOUCH", id});
  INFO(lost.str);
  CHECK(starts_with(lost, "UNKNOWN redis did not answer in time"));
  t.stop_redis();
  CHECK(starts_with(t.call({"SESSION", "TOUCH", id}), "UNAVAILABLE"));
}

// -- SESSION STATE SET: the write names itself (its ciphertext), so a retry is recognised ---

TEST_CASE("a SESSION STATE SET whose read was unanswered wrote nothing: UNAVAILABLE") {
  // SET reads the session before it writes, so a paused Redis holds the read and the write is
  // never sent. (The write itself, sent and unanswered, is retried and recognised by
  // lua/session_state.lua: tests/lua/session_scripts_test.cpp.)
  unanswered_fixture t;
  auto id = t.open_session();
  t.pause_redis(unanswered_ms);
  auto reply = t.call({"SESSION", "STATE", id, "SET", "cart=1"});
  INFO(reply.str);
  CHECK(starts_with(reply, "UNAVAILABLE"));
  std::this_thread::sleep_for(1200ms);
  CHECK(t.redis.cli({"HGET", t.session_key(id), "state_version"}) == "0");
  CHECK(field(t.call({"SESSION", "STATE", id, "SET", "cart=1"}), "state_version") == 1);
  t.stop_redis();
  CHECK(starts_with(t.call({"SESSION", "STATE", id, "SET", "cart=3"}), "UNAVAILABLE"));
}

// -- ELECT RESIGN (a lease release): idempotent, retried once -------------------------------

TEST_CASE("an ELECT RESIGN whose answer was lost is retried, then answers UNKNOWN") {
  unanswered_fixture t;
  REQUIRE(!t.call({"ELECT", "JOIN", "g", "me", "TTL", "60000"}).is_error());
  t.pause_redis(answered_by_retry_ms);
  auto resigned = t.call({"ELECT", "RESIGN", "g"});
  INFO(resigned.to_string());
  CHECK(resigned.str == "OK");
  std::this_thread::sleep_for(300ms);
  REQUIRE(test::eventually(
      [&] {
        return !t.call({"ELECT", "JOIN", "g", "me", "TTL", "60000"}).is_error();
      },
      5000));
  t.pause_redis(unanswered_ms);
  auto lost = t.call({"ELECT", "RESIGN", "g"});
  INFO(lost.str);
  CHECK(starts_with(lost, "UNKNOWN redis did not answer in time"));
  // RESIGN again: OK, or NOTHELD once the daemon heard the release land; both say resigned.
  CHECK(test::eventually(
      [&] {
        auto again = t.call({"ELECT", "RESIGN", "g"});
        return again.str == "OK" || starts_with(again, "NOTHELD");
      },
      5000));
}

TEST_CASE("a LEASE RELEASE refused before it was sent answers UNAVAILABLE, not UNKNOWN") {
  unanswered_fixture t;
  auto token = field(t.call({"LEASE", "ACQUIRE", "job", "60000"}), "token");
  REQUIRE(token > 0);
  t.stop_redis();
  auto reply = t.call({"LEASE", "RELEASE", "job", std::to_string(token)});
  INFO(reply.str);
  CHECK(starts_with(reply, "UNAVAILABLE"));
}

// -- RATE RESET: idempotent, retried once ---------------------------------------------------

TEST_CASE("a RATE RESET whose answer was lost is retried, then answers UNKNOWN") {
  unanswered_fixture t;
  REQUIRE(!t.call({"RATE", "CHECK", "p", "k"}).is_error());
  t.pause_redis(answered_by_retry_ms);
  auto reset = t.call({"RATE", "RESET", "p", "k"});
  INFO(reset.to_string());
  CHECK(reset.kind == resp_value::type::integer);
  std::this_thread::sleep_for(300ms);
  t.pause_redis(unanswered_ms);
  auto lost = t.call({"RATE", "RESET", "p", "k"});
  INFO(lost.str);
  CHECK(starts_with(lost, "UNKNOWN redis did not answer in time"));
  std::this_thread::sleep_for(1000ms);
  t.stop_redis();
  CHECK(starts_with(t.call({"RATE", "RESET", "p", "k"}), "UNAVAILABLE"));
}

// -- BREAKER FORCE: idempotent, retried once; REPORT never waits for Redis ------------------

TEST_CASE("a BREAKER FORCE whose answer was lost is retried, then answers UNKNOWN") {
  unanswered_fixture t;
  t.pause_redis(answered_by_retry_ms);
  auto forced = t.call({"BREAKER", "FORCE", "pay", "open"});
  INFO(forced.to_string());
  CHECK(text_field(forced, "state") == "forced-open");
  std::this_thread::sleep_for(300ms);
  t.pause_redis(unanswered_ms);
  auto lost = t.call({"BREAKER", "FORCE", "pay", "closed"});
  INFO(lost.str);
  CHECK(starts_with(lost, "UNKNOWN redis did not answer in time"));
  // BREAKER REPORT is counted in memory: Redis' silence never makes it ambiguous.
  CHECK(t.call({"BREAKER", "REPORT", "pay", "ok"}).str == "OK");
  std::this_thread::sleep_for(1000ms);
  t.stop_redis();
  CHECK(starts_with(t.call({"BREAKER", "FORCE", "pay", "auto"}), "UNAVAILABLE"));
  CHECK(t.call({"BREAKER", "REPORT", "pay", "fail"}).str == "OK");
}

// -- SECRET PUT/ROTATE: a lost promote may have made the new version current ---------------

TEST_CASE("a SECRET ROTATE whose promotion was unanswered answers UNKNOWN") {
  // The test hook runs between stage and promote: it pauses Redis, so the promote waits.
  unanswered_fixture t(std::string("  rotation_lease_ms: 5000\n  hook_timeout_ms: 3000\n  items:\n    - "
                        "{name: api, test_hook: '") +
            "cat > /dev/null; redis-cli -s REDIS CLIENT PAUSE " + unanswered_ms +
            " ALL > /dev/null'}\n");
  REQUIRE(field(t.call({"SECRET", "PUT", "api", "v1"}), "version") == 1);
  auto rotated = t.call({"SECRET", "ROTATE", "api"});
  INFO(rotated.str);
  CHECK(starts_with(rotated, "UNKNOWN redis did not answer in time"));
  CHECK(rotated.str.find("SECRET INFO") != std::string::npos);
  // Redis ran the promote once the pause ended: SECRET INFO tells the new version is current.
  CHECK(test::eventually(
      [&] {
        auto info = t.call({"SECRET", "INFO", "api"});
        return !info.is_error() && field(info, "current") == 2;
      },
      5000));
}

TEST_CASE("a SECRET PUT refused before it was sent answers UNAVAILABLE") {
  unanswered_fixture t;
  t.stop_redis();
  auto reply = t.call({"SECRET", "PUT", "api", "v1"});
  INFO(reply.str);
  CHECK(starts_with(reply, "UNAVAILABLE"));
}
