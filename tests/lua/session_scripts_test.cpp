// lua/session_*.lua on a real redis-server: a session lives for its sliding TTL, only its
// owner writes its state and only over the version it read, a handoff is fenced by the owner
// epoch, a resume token's nonce works once and never after close, and indexes forget expired
// sessions.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/script_runner.hpp"
#include "tests/support/test_redis.hpp"

using namespace baton;
using protocol::resp_value;
using namespace std::chrono_literals;

namespace {

const std::string key = "baton:session:{s1}";
const std::string channel = "baton:session-events";

struct session_fixture {
  test::test_redis redis;
  test::script_runner lua{redis.socket_path()};

  resp_value open(const std::string& ttl = "60000") {
    return lua.run("session_open", {key}, {"alice", "a", ttl, "{}", "n1", "1000"});
  }
  resp_value state(const std::string& node, const std::string& expected,
                   const std::string& writer = "") {
    return lua.run("session_state", {key}, {node, expected, "k1", "wk", "ct-" + expected + writer});
  }
  resp_value resume(const std::string& epoch, const std::string& nonce, const std::string& node,
                    const std::string& next) {
    return lua.run("session_resume", {key}, {epoch, nonce, node, next, channel, "s1"});
  }
  std::string field(const std::string& name) { return lua.call({"HGET", key, name}).str; }
};

} // namespace

TEST_CASE_METHOD(session_fixture, "a session lives for its sliding ttl") {
  REQUIRE(open("300").elements.at(0).integer == 1);
  CHECK(open().elements.at(1).str == "exists");
  CHECK(field("owner") == "a");
  CHECK(field("epoch") == "1");
  std::this_thread::sleep_for(200ms);
  auto touched = lua.run("session_touch", {key}, {"1000"});
  CHECK(touched.elements.at(1).str == "a");
  CHECK(lua.call({"PTTL", key}).integer > 250); // slid
  std::this_thread::sleep_for(350ms);
  CHECK(lua.run("session_touch", {key}, {"1000"}).elements.at(1).str == "gone");
  auto read = lua.run("session_read", {key}, {});
  CHECK(read.elements.at(1).integer == -2);
}

TEST_CASE_METHOD(session_fixture, "only the owner writes state, over the version it read") {
  open();
  CHECK(state("a", "0").elements.at(1).integer == 1);
  auto stale = state("a", "0", "-another-writer");
  CHECK(stale.elements.at(1).str == "conflict");
  CHECK(stale.elements.at(2).integer == 1);
  auto other = state("b", "1");
  CHECK(other.elements.at(1).str == "moved");
  CHECK(other.elements.at(2).str == "a");
  CHECK(field("state_ct") == "ct-0");
  CHECK(state("a", "1").elements.at(1).integer == 2);
}

TEST_CASE_METHOD(session_fixture, "a state write sent again is answered as the first was") {
  open();
  REQUIRE(state("a", "0").elements.at(1).integer == 1);
  // The same write (its answer lost): recognised by its ciphertext, not applied twice.
  auto again = state("a", "0");
  CHECK(again.elements.at(0).integer == 1);
  CHECK(again.elements.at(1).integer == 1);
  CHECK(field("state_version") == "1");
  // Once another write came after it, the old one sent again is a conflict, not a success.
  REQUIRE(state("a", "1").elements.at(1).integer == 2);
  auto late = state("a", "0");
  CHECK(late.elements.at(1).str == "conflict");
  CHECK(late.elements.at(2).integer == 2);
}

TEST_CASE_METHOD(session_fixture, "a handoff is fenced by the owner epoch") {
  open();
  auto moved = lua.run("session_move", {key}, {"a", "1", "b", "n2", channel, "s1"});
  REQUIRE(moved.elements.at(0).integer == 1);
  CHECK(moved.elements[1].integer == 2);
  CHECK(field("owner") == "b");
  // A second mover with the old view (a drain racing an adoption) changes nothing.
  auto late = lua.run("session_move", {key}, {"a", "1", "c", "n3", channel, "s1"});
  CHECK(late.elements.at(1).str == "fenced");
  CHECK(late.elements.at(2).str == "b");
  CHECK(field("owner") == "b");
  CHECK(state("a", "0").elements.at(1).str == "moved"); // the old owner cannot write
}

// The chaos harness's kill-mid-drain: the drainer moved the session (a new nonce) and died
// before its handoff-out push reached the client, whose token then no longer resumed it.
TEST_CASE_METHOD(session_fixture,
                 "after a handoff, the client's last token or the pushed one works, once") {
  open();
  lua.run("session_move", {key}, {"a", "1", "b", "n2", channel, "s1"});
  auto old = resume("1", "n1", "c", "n3"); // the client never heard the push
  REQUIRE(old.elements.at(0).integer == 1);
  CHECK(old.elements[1].integer == 3);
  CHECK(field("owner") == "c");
  CHECK(resume("2", "n2", "b", "x").elements.at(1).str == "used"); // the push's: cancelled
  CHECK(resume("1", "n1", "b", "x").elements.at(1).str == "used"); // and no replay
  CHECK(resume("3", "n3", "c", "n4").elements.at(0).integer == 1);
  // The other way round: the pushed token used first cancels the old one.
  lua.run("session_move", {key}, {"c", "3", "d", "n5", channel, "s1"});
  REQUIRE(resume("4", "n5", "d", "n6").elements.at(0).integer == 1);
  CHECK(resume("3", "n4", "d", "x").elements.at(1).str == "used");
}

TEST_CASE_METHOD(session_fixture, "a resume token works once, and never after close") {
  open();
  // The handoff's token (epoch 2, nonce n2); the one from OPEN is spent once it is used.
  lua.run("session_move", {key}, {"a", "1", "b", "n2", channel, "s1"});
  auto resumed = resume("2", "n2", "b", "n3");
  REQUIRE(resumed.elements.at(0).integer == 1);
  CHECK(resumed.elements[1].integer == 2); // b owned it already: same epoch
  CHECK(resume("2", "n2", "b", "n4").elements.at(1).str == "used"); // replayed
  CHECK(resume("1", "n1", "b", "n4").elements.at(1).str == "used"); // spent with it
  // Resuming elsewhere makes that node the owner.
  auto moved = resume("2", "n3", "c", "n5");
  CHECK(moved.elements.at(1).integer == 3);
  CHECK(field("owner") == "c");
  // An adoption keeps the client's last token working.
  lua.run("session_move", {key}, {"c", "3", "d", "", channel, "s1"});
  CHECK(field("owner") == "d");
  auto adopted = resume("3", "n5", "e", "n6");
  CHECK(adopted.elements.at(1).integer == 5);
  auto closed = lua.run("session_close", {key}, {channel, "s1", "1000"});
  CHECK(closed.elements.at(1).str == "alice");
  CHECK(resume("5", "n6", "e", "n7").elements.at(1).str == "gone");
}

TEST_CASE_METHOD(session_fixture,
                 "a session is its opener's uid's: touch and close refuse others") {
  open();
  CHECK(field("uid") == "1000");
  CHECK(lua.run("session_touch", {key}, {"1001"}).elements.at(1).str == "noperm");
  CHECK(lua.run("session_close", {key}, {channel, "s1", "1001"}).elements.at(1).str == "noperm");
  CHECK(field("owner") == "a"); // untouched, still there
  CHECK(lua.run("session_touch", {key}, {"1000"}).elements.at(0).integer == 1);
  // An admin ("*") may close it.
  CHECK(lua.run("session_close", {key}, {channel, "s1", "*"}).elements.at(0).integer == 1);
  // The close of an OPEN whose answer was lost, run before that open (another connection):
  // it leaves a placeholder for a minute, and the late open makes nothing.
  auto gone = lua.run("session_close", {key}, {channel, "s1", "*", "60000"});
  CHECK(gone.elements.at(1).str == "gone");
  auto placeholder_ttl = std::stoll(redis.cli({"PTTL", key}));
  CHECK(placeholder_ttl > 55000);
  CHECK(placeholder_ttl <= 60000);
  CHECK(open().elements.at(1).str == "exists");
  CHECK(redis.cli({"HGET", key, "user"}).empty());
  // Every other script reads the placeholder as no session.
  CHECK(lua.run("session_close", {key}, {channel, "s1", "*"}).elements.at(1).str == "gone");
  // A session written before sessions carried a uid is anyone's, as it was then.
  lua.call({"HSET", key, "owner", "a", "epoch", "1", "ttl", "60000", "user", "bob"});
  CHECK(lua.run("session_touch", {key}, {"1001"}).elements.at(0).integer == 1);
}

TEST_CASE_METHOD(session_fixture, "a move sent again after its answer was lost lands once") {
  open();
  auto moved = lua.run("session_move", {key}, {"a", "1", "b", "n2", channel, "s1"});
  REQUIRE(moved.elements.at(0).integer == 1);
  CHECK(moved.elements.at(2).str == "1000"); // who may hear the token
  auto again = lua.run("session_move", {key}, {"a", "1", "b", "n2", channel, "s1"});
  CHECK(again.elements.at(0).integer == 1);
  CHECK(again.elements.at(1).integer == 2); // the same epoch: not moved twice
  CHECK(field("epoch") == "2");
  CHECK(field("nonce") == "n2");
  // Another mover with the same view is still fenced.
  CHECK(lua.run("session_move", {key}, {"a", "1", "c", "n3", channel, "s1"}).elements.at(1).str ==
        "fenced");
}

TEST_CASE_METHOD(session_fixture, "only the opener's uid resumes, and a refusal spends nothing") {
  open();
  auto as = [&](const std::string& uid) {
    return lua.run("session_resume", {key}, {"1", "n1", "b", "n2", channel, "s1", "0", uid});
  };
  CHECK(as("1001").elements.at(1).str == "noperm");
  CHECK(field("nonce") == "n1"); // the token still works for its own app
  CHECK(as("1000").elements.at(0).integer == 1);
}

TEST_CASE_METHOD(session_fixture,
                 "a resume sent again after its answer was lost is answered again") {
  open();
  auto with_window = [&](const std::string& epoch, const std::string& nonce,
                         const std::string& node, const std::string& next) {
    return lua.run("session_resume", {key}, {epoch, nonce, node, next, channel, "s1", "30000"});
  };
  auto first = with_window("1", "n1", "b", "n2");
  REQUIRE(first.elements.at(0).integer == 1);
  // The same token, node and next nonce (the daemon derives it from the token): same answer,
  // nothing changes.
  auto again = with_window("1", "n1", "b", "n2");
  CHECK(again.elements.at(0).integer == 1);
  CHECK(again.elements.at(1).integer == first.elements.at(1).integer);
  CHECK(field("nonce") == "n2");
  CHECK(field("epoch") == "2");
  // Not on another node, and not once something newer replaced it.
  CHECK(with_window("1", "n1", "c", "n2").elements.at(1).str == "used");
  REQUIRE(with_window("2", "n2", "b", "n3").elements.at(0).integer == 1);
  CHECK(with_window("1", "n1", "b", "n2").elements.at(1).str == "used");
  // Without a window (or past it), a used token stays used.
  CHECK(resume("2", "n2", "b", "n3").elements.at(1).str == "used");
}

TEST_CASE_METHOD(session_fixture, "indexes forget expired sessions") {
  const std::string index = "baton:user-sessions:{alice}";
  lua.run("session_index", {index}, {"add", "s1", "60000"});
  lua.run("session_index", {index}, {"add", "s2", "100"});
  CHECK(lua.call({"ZCARD", index}).integer == 2);
  std::this_thread::sleep_for(150ms);
  CHECK(lua.run("session_index", {index}, {"add", "s3", "60000"}).integer == 2);
  CHECK(lua.run("session_index", {index}, {"remove", "s1", "0"}).integer == 1);
  CHECK(lua.run("session_index", {index}, {"remove", "s3", "0"}).integer == 0);
  CHECK(lua.call({"EXISTS", index}).integer == 0);
}

TEST_CASE_METHOD(session_fixture,
                 "a reservation past the cap is refused, and expired ones stop counting") {
  const std::string index = "baton:user-sessions:{bob}";
  CHECK(lua.run("session_index", {index}, {"reserve", "s1", "60000", "2"}).integer == 1);
  CHECK(lua.run("session_index", {index}, {"reserve", "s2", "100", "2"}).integer == 2);
  // Full: a third is refused and changes nothing; one already in is not refused.
  CHECK(lua.run("session_index", {index}, {"reserve", "s3", "60000", "2"}).integer == -1);
  CHECK(lua.call({"ZSCORE", index, "s3"}).kind == resp_value::type::null);
  CHECK(lua.run("session_index", {index}, {"reserve", "s1", "60000", "2"}).integer == 2);
  // A closed session gives its place back; so does one that expired without a close.
  CHECK(lua.run("session_index", {index}, {"remove", "s1", "0"}).integer == 1);
  CHECK(lua.run("session_index", {index}, {"reserve", "s3", "60000", "2"}).integer == 2);
  CHECK(lua.run("session_index", {index}, {"reserve", "s4", "60000", "2"}).integer == -1);
  std::this_thread::sleep_for(150ms);
  CHECK(lua.run("session_index", {index}, {"reserve", "s4", "60000", "2"}).integer == 2);
  CHECK(lua.call({"ZSCORE", index, "s2"}).kind == resp_value::type::null);
  // add (TOUCH, RESUME, a handoff) is never refused: only new sessions count against the cap.
  CHECK(lua.run("session_index", {index}, {"add", "s5", "60000"}).integer == 3);
}
