// The drain on virtual time with a scripted link and a scripted heartbeat: its steps in
// order (announce, delay, targets, move and push, wait), a session resumed before its move's
// reply came, the deadline, no active node, and a session fenced by another owner.
#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "actors/session_handoff/drain_actor.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::session;
using namespace std::chrono_literals;
using redis_link::redis_reply;
using redis_link::script_call;
using test::array_reply;
using test::integer_reply;
using test::string_reply;

namespace {

// lua/node_list's reply for these nodes: {now, id, age, record, ...}.
redis_reply node_list(std::vector<std::tuple<std::string, std::string, int>> nodes) {
  std::vector<redis_reply> e{integer_reply(1000)};
  for (const auto& [id, state, sessions] : nodes) {
    e.push_back(string_reply(id));
    e.push_back(integer_reply(10));
    e.push_back(string_reply(nlohmann::json{
        {"address", id + ".local"},
        {"state", state},
        {"sessions", sessions}}.dump()));
  }
  return array_reply(std::move(e));
}

struct drain_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::vector<std::string> events; ///< steps, announcements and news, in order, with times
  std::vector<drain_news> news;
  redis_reply nodes = node_list({{"n1", "draining", 2}, {"n2", "active", 5}, {"n3", "active", 0}});
  drain_deps deps;
  owned_sessions owned{{"s1", "s2"}, {3, 7}}; ///< what the session service answers
  drain_actor drain;

  drain_fixture() {
    redis->answer = [this](const script_call& c) -> std::optional<redis_reply> {
      if (c.name == "node_list") return nodes;
      if (c.name == "session_move") {
        events.push_back("move " + c.args.at(5) + " -> " + c.args.at(2));
        return array_reply({integer_reply(1), integer_reply(std::stoll(c.args.at(1)) + 1)});
      }
      return std::nullopt;
    };
    deps.link = test::spawn_fake_link(time.system(), redis);
    deps.membership = time.system().spawn([this](membership::membership_actor::pointer)
                                              -> membership::membership_actor::behavior_type {
      return {
          [this](atoms::drain) {
            events.push_back("announce");
            return true;
          },
          [](atoms::leave) { return true; },
          [](atoms::timer_tick, std::uint64_t) {},
      };
    });
    deps.settings.node_id = "n1";
    deps.settings.prefix = "t";
    deps.settings.drain_delay = 500ms;
    deps.settings.handoff_deadline = 10000ms;
    auto start = time.now();
    deps.tell = [this, start](drain_news n) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - start).count();
      if (n.what == drain_news::kind::announced) events.push_back("announced");
      if (n.what == drain_news::kind::need_sessions) {
        events.push_back("sessions asked");
        caf::anon_send(drain, atoms::sessions::value, owned);
      }
      if (n.what == drain_news::kind::moved) events.push_back("push " + n.id);
      if (n.what == drain_news::kind::finished)
        events.push_back("finished at " + std::to_string(ms));
      news.push_back(std::move(n));
    };
    deps.on_step = [this, start](drain_step s) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.now() - start).count();
      events.push_back(std::string(to_string(s)) + " at " + std::to_string(ms));
    };
  }

  drain_actor start() {
    drain = spawn_drain(time.system(), deps);
    time.run();
    return drain;
  }
  const drain_news& finished() const {
    REQUIRE(!news.empty());
    REQUIRE(news.back().what == drain_news::kind::finished);
    return news.back();
  }
};

} // namespace

TEST_CASE_METHOD(drain_fixture,
                 "a drain announces, waits the delay, moves, pushes, then waits for resumes") {
  start();
  time.advance(500ms);
  // Both go to the active nodes, the emptier first (n3 has 0 sessions, n2 has 5).
  CHECK(events == std::vector<std::string>{
                      "announcing at 0", "announce", "announced", "delaying at 0",
                      "choosing_targets at 500", "sessions asked", "moving at 500", "move s1 -> n3",
                      "move s2 -> n3", "push s1", "push s2", "waiting at 500"});
  // The moves are fenced by each session's owner epoch, with a fresh nonce.
  REQUIRE(redis->count("session_move") == 2);
  CHECK(redis->calls[1].args.at(0) == "n1");
  CHECK(redis->calls[1].args.at(1) == "3");
  CHECK_FALSE(redis->calls[1].args.at(3).empty());
  // news: announced, need_sessions, then the first move.
  CHECK(news[2].epoch == 4);
  CHECK(news[2].address == "n3.local");
  CHECK(news[2].nonce == redis->calls[1].args.at(3));
  time.advance(40ms);
  caf::anon_send(drain, atoms::resumed::value, std::string("s1"));
  time.advance(60ms);
  caf::anon_send(drain, atoms::resumed::value, std::string("s2"));
  time.run();
  auto& r = finished().report;
  CHECK(r.announced);
  CHECK(r.owned == 2);
  CHECK(r.moved == 2);
  CHECK(r.resumed == 2);
  CHECK(r.resume_ms == std::vector<double>{40, 100});
  CHECK(r.took == 100ms);
}

TEST_CASE_METHOD(drain_fixture,
                 "a session resumed before its move's reply came is counted, not waited for") {
  redis->answer = [this](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "node_list") return nodes;
    return std::nullopt; // the batch's reply is late
  };
  deps.settings.drain_delay = 0ms;
  start();
  REQUIRE(redis->held.size() == 1);
  // The resume event (another connection) overtakes the reply.
  caf::anon_send(drain, atoms::resumed::value, std::string("s1"));
  caf::anon_send(drain, atoms::closed::value, std::string("s2"));
  time.run();
  redis->answer_held(array_reply({integer_reply(1), integer_reply(9)}));
  time.run();
  auto& r = finished().report;
  CHECK(r.moved == 2);
  CHECK(r.resumed == 1);
}

TEST_CASE_METHOD(drain_fixture,
                 "the drain ends at the handoff deadline if a session is never resumed") {
  start();
  time.advance(500ms);
  caf::anon_send(drain, atoms::resumed::value, std::string("s1"));
  time.advance(9999ms);
  CHECK(news.back().what != drain_news::kind::finished);
  time.advance(1ms);
  auto& r = finished().report;
  CHECK(r.resumed == 1);
  CHECK(r.took == 10000ms);
}

TEST_CASE_METHOD(drain_fixture, "no active node: the sessions stay, and the drain says so") {
  nodes = node_list({{"n1", "draining", 2}, {"n2", "draining", 0}});
  start();
  time.advance(500ms);
  auto& r = finished().report;
  CHECK(r.stayed == 2);
  CHECK(r.moved == 0);
  CHECK(redis->count("session_move") == 0);
}

TEST_CASE_METHOD(drain_fixture, "a session fenced by another owner is not moved and is let go") {
  redis->answer = [this](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "node_list") return nodes;
    if (c.args.at(5) == "s1")
      return array_reply(
          {integer_reply(0), string_reply("fenced"), string_reply("n2"), integer_reply(4)});
    return array_reply({integer_reply(1), integer_reply(8)});
  };
  start();
  time.advance(500ms);
  REQUIRE(news.size() >= 4);
  CHECK(news[2].what == drain_news::kind::not_moved);
  CHECK(news[2].moved_on);
  caf::anon_send(drain, atoms::resumed::value, std::string("s2"));
  time.run();
  auto& r = finished().report;
  CHECK(r.failed == 1);
  CHECK(r.moved == 1);
  CHECK(r.resumed == 1);
}

TEST_CASE_METHOD(drain_fixture, "the sessions moved are those owned after the delay, not before") {
  start();
  time.advance(200ms);
  owned = {{"s2", "s3"}, {7, 1}}; // s1 resumed elsewhere meanwhile, s3 arrived
  time.advance(300ms);
  REQUIRE(redis->count("session_move") == 2);
  CHECK(redis->calls[1].args.at(5) == "s2");
  CHECK(redis->calls[2].args.at(5) == "s3");
  caf::anon_send(drain, atoms::resumed::value, std::string("s2"));
  caf::anon_send(drain, atoms::resumed::value, std::string("s3"));
  time.run();
  CHECK(finished().report.owned == 2);
  CHECK(finished().report.resumed == 2);
}

TEST_CASE_METHOD(drain_fixture,
                 "Redis paused as a drain begins: it asks again and moves every session") {
  // The reproduction: a 700 ms CLIENT PAUSE WRITE as the drain begins made it give up
  // at once ("no active node to hand sessions to"), and the sessions waited for adoption.
  int unanswered_lists = 3, unanswered_moves = 2;
  std::set<std::string> nonces_of_s1;
  redis->answer = [&](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "node_list") {
      if (unanswered_lists-- > 0) return redis_reply::unavailable("paused");
      return nodes;
    }
    if (c.name == "session_move") {
      if (c.args.at(5) == "s1") nonces_of_s1.insert(c.args.at(3));
      if (unanswered_moves-- > 0) return redis_reply::unavailable("paused");
      events.push_back("move " + c.args.at(5));
      return array_reply(
          {integer_reply(1), integer_reply(std::stoll(c.args.at(1)) + 1), string_reply("1000")});
    }
    return std::nullopt;
  };
  start();
  time.advance(500ms);
  for (int i = 0; i < 10; ++i)
    time.advance(100ms);
  std::vector<std::string> pushed;
  for (const auto& n : news)
    if (n.what == drain_news::kind::moved) {
      pushed.push_back(n.id);
      CHECK(n.uid == 1000); // who may hear its token
    }
  CHECK(pushed == std::vector<std::string>{"s1", "s2"});
  // Sent again with the same nonce: the move the client will resume with is the one pushed.
  CHECK(nonces_of_s1.size() == 1);
  CHECK(std::count(events.begin(), events.end(), "move s1") == 1);
  // Nobody resumes here: the drain ends at its deadline (and so before the fixture does).
  time.advance(10000ms);
  CHECK(finished().report.moved == 2);
  CHECK(finished().report.failed == 0);
}

TEST_CASE_METHOD(drain_fixture,
                 "moves still unanswered at the handoff deadline are reported failed") {
  deps.settings.handoff_deadline = 1000ms;
  redis->answer = [&](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "node_list") return nodes;
    if (c.name == "session_move") return redis_reply::unavailable("paused");
    return std::nullopt;
  };
  start();
  time.advance(500ms);
  for (int i = 0; i < 15; ++i)
    time.advance(100ms);
  CHECK(finished().report.failed == 2);
  CHECK(finished().report.moved == 0);
}
