// lua/secret_*.lua on a real redis-server: the rotation steps are fenced by the rotation
// token, promotion swaps current and previous in one step and announces it, a half-done
// rotation is found by the next one, retirement waits for the grace window and for lagging
// live daemons, rewrap only replaces the key it read, and the audit stream stays capped. A
// record carries an incarnation, kept across rotations and new after a data loss, which
// announcements and acknowledgements carry so that a daemon can tell a history made again.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;

namespace {

const std::string key = "baton:secret:{stripe}";
const std::string acks = "baton:secret:{stripe}:acks";
const std::string channel = "baton:secret-events";

struct secret_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value begin(const std::string& token, const std::string& due = "0",
                   const std::string& floor = "0", const std::string& incarnation = "") {
    return lua.run("secret_begin", {key}, {token, due, floor, incarnation});
  }
  resp_value stage(const std::string& token, const std::string& version,
                   const std::string& ct = "ct") {
    return lua.run("secret_stage", {key}, {token, version, "k1", "wrapped-" + version, ct});
  }
  resp_value promote(const std::string& token, const std::string& version,
                     const std::string& grace = "60000") {
    return lua.run("secret_promote", {key}, {token, version, grace, channel, "stripe"});
  }
  std::string field(const std::string& name) { return lua.call({"HGET", key, name}).str; }
  /// A whole rotation with token `token`; answers the new version.
  std::int64_t rotate(const std::string& token, const std::string& grace = "60000") {
    auto b = begin(token);
    REQUIRE(b.elements.at(0).str == "fresh");
    auto version = std::to_string(b.elements[1].integer);
    REQUIRE(stage(token, version).elements.at(0).integer == 1);
    REQUIRE(promote(token, version, grace).elements.at(0).integer == 1);
    return b.elements[1].integer;
  }
  resp_value retire(const std::string& liveness = "15000", const std::string& keep = "5") {
    return lua.run("secret_retire", {key, acks}, {liveness, channel, "stripe", keep});
  }
};

} // namespace

TEST_CASE_METHOD(secret_fixture,
                 "after Redis lost a secret, versions go on above what the caller has seen") {
  REQUIRE(rotate("100") == 1);
  REQUIRE(rotate("101") == 2);
  lua.call({"FLUSHALL"}); // a restart without persistence
  auto b = begin("102", "0", "2");
  REQUIRE(b.elements.at(0).str == "fresh");
  CHECK(b.elements[1].integer == 3); // not 1 again: a daemon still holds the old 1 and 2
  // A floor below what Redis has changes nothing.
  REQUIRE(stage("102", "3").elements.at(0).integer == 1);
  REQUIRE(promote("102", "3").elements.at(0).integer == 1);
  CHECK(begin("103", "0", "1").elements.at(1).integer == 4);
}

TEST_CASE_METHOD(secret_fixture,
                 "a record keeps its first incarnation, and takes a new one after Redis lost it") {
  protocol::resp_client events(redis.socket_path());
  events.call({"SUBSCRIBE", channel});
  REQUIRE(begin("100", "0", "0", "first").elements.at(0).str == "fresh");
  CHECK(field("incarnation") == "first");
  REQUIRE(stage("100", "1").elements.at(0).integer == 1);
  REQUIRE(promote("100", "1").elements.at(0).integer == 1);
  CHECK(events.read().elements.at(2).str == "changed stripe 1 first");
  // Later rotations bring their own random id; the record keeps the one it has.
  REQUIRE(begin("200", "0", "0", "second").elements.at(0).str == "fresh");
  CHECK(field("incarnation") == "first");
  REQUIRE(stage("200", "2").elements.at(0).integer == 1);
  REQUIRE(promote("200", "2", "0").elements.at(0).integer == 1);
  CHECK(events.read().elements.at(2).str == "changed stripe 2 first");
  auto acked = lua.run("secret_ack", {key, acks}, {"a", "2"});
  REQUIRE(acked.elements.size() == 2);
  CHECK(acked.elements[0].integer == 2);
  CHECK(acked.elements[1].str == "first");
  // Retirement announces the incarnation too.
  REQUIRE(retire().elements.at(0).integer == 1);
  CHECK(events.read().elements.at(2).str == "changed stripe 3 first");

  lua.call({"FLUSHALL"}); // a restart without persistence: the history is gone
  auto gone = lua.run("secret_ack", {key, acks}, {"a", "2"});
  REQUIRE(gone.elements.size() == 2);
  CHECK(gone.elements[0].integer == 0); // a daemon serving epoch 3 sees the difference
  CHECK(gone.elements[1].str == "");
  // Made again: the epoch starts over at 1, below what daemons hold; the incarnation tells.
  REQUIRE(begin("300", "0", "2", "again").elements.at(0).str == "fresh");
  CHECK(field("incarnation") == "again");
  REQUIRE(stage("300", "3").elements.at(0).integer == 1);
  auto promoted = promote("300", "3");
  REQUIRE(promoted.elements.at(0).integer == 1);
  CHECK(promoted.elements[1].integer == 1);
  CHECK(events.read().elements.at(2).str == "changed stripe 1 again");
  auto now = lua.run("secret_ack", {key, acks}, {"a", "3"});
  CHECK(now.elements.at(0).integer == 1);
  CHECK(now.elements.at(1).str == "again");
}

TEST_CASE_METHOD(secret_fixture, "a record made before incarnations announces without one") {
  protocol::resp_client events(redis.socket_path());
  events.call({"SUBSCRIBE", channel});
  rotate("100"); // no incarnation given: the record has none, as one an older daemon made
  CHECK(lua.call({"HEXISTS", key, "incarnation"}).integer == 0);
  CHECK(events.read().elements.at(2).str == "changed stripe 1");
  CHECK(lua.run("secret_ack", {key, acks}, {"a", "1"}).elements.at(1).str == "");
  // The next rotation by a newer daemon gives it one.
  REQUIRE(begin("200", "0", "0", "later").elements.at(0).str == "fresh");
  CHECK(field("incarnation") == "later");
}

TEST_CASE_METHOD(secret_fixture, "a rotation stages pending, then promotes it and announces") {
  auto b = begin("100");
  REQUIRE(b.elements.at(0).str == "fresh");
  CHECK(b.elements[1].integer == 1);
  REQUIRE(stage("100", "1").elements.at(1).str == "staged");
  CHECK(field("pending") == "1");
  CHECK(field("v1.state") == "pending");
  CHECK(lua.call({"HEXISTS", key, "current"}).integer == 0); // nothing served yet
  auto p = promote("100", "1");
  REQUIRE(p.elements.at(0).integer == 1);
  CHECK(p.elements[1].integer == 1); // epoch
  CHECK(p.elements[3].integer == 0); // no previous version
  CHECK(field("current") == "1");
  CHECK(field("pending") == "0");
  CHECK(field("v1.state") == "current");

  // The second rotation makes version 1 previous with a grace deadline in Redis time.
  auto second = rotate("200", "60000");
  CHECK(second == 2);
  CHECK(field("v1.state") == "previous");
  CHECK(field("v2.state") == "current");
  CHECK(field("live") == "1 2");
  auto now_ms = lua.run("secret_read", {key}, {}).elements.at(0).integer;
  auto grace_until = std::stoll(field("v1.grace_until"));
  CHECK(grace_until > now_ms + 59000);
  CHECK(grace_until <= now_ms + 60000);
}

TEST_CASE_METHOD(secret_fixture, "every step is fenced by the newest rotation token") {
  REQUIRE(begin("100").elements.at(0).str == "fresh");
  // A newer rotator begins: the old one can neither stage nor promote any more.
  auto newer = begin("200");
  CHECK(newer.elements.at(0).str == "fresh");
  CHECK(stage("100", "1").elements.at(1).str == "stale");
  CHECK(begin("150").elements.at(0).str == "stale");
  REQUIRE(stage("200", "2").elements.at(0).integer == 1);
  CHECK(promote("100", "2").elements.at(1).str == "stale");
  CHECK(lua.run("secret_abort", {key}, {"100", "2"}).elements.at(1).str == "stale");
  CHECK(promote("200", "2").elements.at(0).integer == 1);
  // Only the pending version can be promoted.
  REQUIRE(begin("300").elements.at(0).str == "fresh");
  CHECK(promote("300", "2").elements.at(1).str == "not-pending");
}

TEST_CASE_METHOD(secret_fixture, "the next rotation finds a half-done one: abort rolls it back") {
  rotate("100");
  auto b = begin("200");
  REQUIRE(b.elements.at(0).str == "fresh");
  REQUIRE(stage("200", "2").elements.at(0).integer == 1);
  // The rotator dies here. The next attempt is told about version 2.
  auto resumed = begin("300");
  REQUIRE(resumed.elements.at(0).str == "resume");
  CHECK(resumed.elements[1].integer == 2);
  CHECK(resumed.elements[2].str == "staged");
  // A different value is wanted: roll version 2 back; version 1 stays current throughout.
  REQUIRE(lua.run("secret_abort", {key}, {"300", "2"}).elements.at(1).str == "aborted");
  CHECK(field("current") == "1");
  CHECK(field("pending") == "0");
  CHECK(lua.call({"HEXISTS", key, "v2.ct"}).integer == 0);
  CHECK(field("live") == "1");
  // A busy stage: another pending version is in the way.
  REQUIRE(begin("400").elements.at(0).str == "fresh");
  REQUIRE(stage("400", "3").elements.at(0).integer == 1);
  CHECK(stage("400", "4").elements.at(1).str == "busy");
}

TEST_CASE_METHOD(secret_fixture, "a schedule rotates only when the current version is old enough") {
  rotate("100");
  auto early = begin("200", "60000");
  REQUIRE(early.elements.at(0).str == "not-due");
  CHECK(early.elements[1].integer > 59000);
  CHECK(field("fence") == "100"); // a refusal takes no fence
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK(begin("300", "50").elements.at(0).str == "fresh");
}

TEST_CASE_METHOD(secret_fixture, "retirement waits for the grace window and for lagging daemons") {
  rotate("100");
  rotate("200", "150"); // version 1 previous for 150 ms
  lua.run("secret_ack", {key, acks}, {"a", "2"});
  lua.run("secret_ack", {key, acks}, {"b", "1"}); // b has not reloaded yet
  auto early = retire();
  CHECK(early.elements.at(0).integer == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto lagging = retire();
  CHECK(lagging.elements.at(0).integer == 0);
  REQUIRE(lagging.elements.size() == 3);
  CHECK(lagging.elements[2].str == "b");
  CHECK(field("v1.state") == "previous");
  auto acked = lua.run("secret_ack", {key, acks}, {"b", "2"});
  CHECK(acked.elements.at(0).integer == 2); // the epoch
  auto done = retire();
  CHECK(done.elements.at(0).integer == 1);
  CHECK(done.elements[1].integer == 3); // retiring changes the epoch (daemons drop the value)
  CHECK(field("v1.state") == "retired");
  CHECK(lua.call({"HEXISTS", key, "v1.ct"}).integer == 0);
  CHECK(lua.call({"HEXISTS", key, "v1.wkey"}).integer == 0);
  CHECK(field("live") == "2");
  CHECK(field("retired") == "1");
  // A daemon silent for longer than the liveness window is not waited for.
  rotate("300", "0");
  lua.run("secret_ack", {key, acks}, {"a", "3"});
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(retire("10").elements.at(0).integer == 1); // b's ack (version 2) is older than 10 ms
}

TEST_CASE_METHOD(secret_fixture, "only the newest retired records are kept") {
  for (int i = 1; i <= 5; ++i)
    rotate(std::to_string(100 * i), "0");
  CHECK(retire("15000", "2").elements.at(0).integer == 4);
  CHECK(field("retired") == "3 4");
  CHECK(lua.call({"HEXISTS", key, "v1.state"}).integer == 0);
  CHECK(field("v4.state") == "retired");
  CHECK(field("live") == "5");
}

TEST_CASE_METHOD(secret_fixture, "rewrap replaces only the wrapped key it read") {
  rotate("100");
  CHECK(lua.run("secret_rewrap", {key}, {"1", "stale-key", "k2", "new"}).integer == 0);
  CHECK(field("v1.kek") == "k1");
  CHECK(lua.run("secret_rewrap", {key}, {"1", "wrapped-1", "k2", "new"}).integer == 1);
  CHECK(field("v1.kek") == "k2");
  CHECK(field("v1.wkey") == "new");
  CHECK(field("v1.ct") == "ct"); // the value's ciphertext is untouched
}

TEST_CASE_METHOD(secret_fixture, "usage counts add up across daemons") {
  const std::string usage = "baton:secret:{stripe}:usage";
  lua.run("secret_count", {usage}, {"1", "10", "2", "3"});
  lua.run("secret_count", {usage}, {"1", "5"});
  CHECK(lua.call({"HGET", usage, "1"}).str == "15");
  CHECK(lua.call({"HGET", usage, "2"}).str == "3");
}

TEST_CASE_METHOD(secret_fixture, "the audit stream takes batches and stays capped") {
  const std::string stream = "baton:secret-audit";
  std::vector<std::string> args = {"100", "2"};
  for (int i = 0; i < 1000; ++i) {
    args.push_back("command");
    args.push_back("get");
    args.push_back("n");
    args.push_back(std::to_string(i));
  }
  CHECK(lua.run("secret_audit", {stream}, args).integer == 1000);
  auto length = lua.call({"XLEN", stream}).integer;
  CHECK(length >= 100);
  CHECK(length < 300); // MAXLEN ~ trims whole macro nodes
  auto last = lua.call({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
  REQUIRE(last.elements.size() == 1);
  CHECK(last.elements[0].elements[1].elements[3].str == "999");
}
