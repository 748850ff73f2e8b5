// The adoption of a dead node's sessions on virtual time with a scripted link: the steps in
// order with every session moved in one batch, fenced by its epoch and keeping the client's
// token; two adopters racing (one lease: only one moves anything); sessions resumed elsewhere
// or expired; no live node.
#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/session_handoff/adoption_actor.hpp"
#include "model/session/handoff_targets.hpp"
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

redis_reply live_nodes() {
  auto record = [](const std::string& state, int sessions) {
    return string_reply(nlohmann::json{{"state", state}, {"sessions", sessions}}.dump());
  };
  return array_reply({integer_reply(1000), string_reply("n1"), integer_reply(5),
                      record("active", 4), string_reply("n2"), integer_reply(5),
                      record("active", 1)});
}

// session_read's reply: {now, pttl, field, value...}.
redis_reply session(const std::string& owner, const std::string& epoch) {
  return array_reply({integer_reply(1000), integer_reply(60000), string_reply("owner"),
                      string_reply(owner), string_reply("epoch"), string_reply(epoch)});
}

struct adoption_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::vector<adoption_step> steps;
  std::vector<adoption_outcome> outcomes;
  int leases_granted = 0;

  adoption_fixture() {
    redis->answer = [this](const script_call& c) -> std::optional<redis_reply> {
      if (c.name == "lease_acquire") {
        // Redis grants the lease once (its exclusivity is lua/lease_acquire's, tested on
        // real Redis in tests/lua).
        if (leases_granted++ == 0) return array_reply({integer_reply(1), integer_reply(11)});
        return array_reply({integer_reply(0), string_reply("held"), integer_reply(11),
                            string_reply("n1")});
      }
      if (c.name == "node_list") return live_nodes();
      if (c.name == "CMD ZRANGE")
        return array_reply({string_reply("a"), string_reply("b"), string_reply("c"),
                            string_reply("d")});
      if (c.name == "session_read") {
        auto id = c.keys.at(0);
        if (id == "t:session:{a}") return session("dead", "3");
        if (id == "t:session:{b}") return session("n1", "4"); // resumed elsewhere already
        if (id == "t:session:{c}") return array_reply({integer_reply(1000), integer_reply(-2)});
        return session("dead", "9");
      }
      if (c.name == "session_move") return array_reply({integer_reply(1), integer_reply(10)});
      return test::status_reply(1, "ok");
    };
  }

  caf::actor adopt(const std::string& node_id) {
    adoption_deps deps;
    deps.link = test::spawn_fake_link(time.system(), redis);
    deps.prefix = "t";
    deps.node_id = node_id;
    deps.on_step = [this](adoption_step s) { steps.push_back(s); };
    return spawn_adoption(time.system(), deps, "dead",
                          [this](adoption_outcome o) { outcomes.push_back(o); });
  }

  std::vector<script_call> calls_named(const std::string& name) const {
    std::vector<script_call> out;
    for (const auto& c : redis->calls)
      if (c.name == name) out.push_back(c);
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(adoption_fixture, "one adopter moves the dead node's sessions, keeping their tokens") {
  adopt("n1");
  time.run();
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].adopter);
  CHECK(outcomes[0].found == 4);
  CHECK(outcomes[0].adopted == 2); // a and d; b moved on, c expired
  CHECK(steps == std::vector<adoption_step>{
                     adoption_step::taking_lease, adoption_step::choosing_targets,
                     adoption_step::reading_index, adoption_step::reading_sessions,
                     adoption_step::moving, adoption_step::unindexing, adoption_step::done});
  auto moves = calls_named("session_move");
  REQUIRE(moves.size() == 2);
  // From the dead node at its epoch, to the live node with the fewest sessions, no new nonce.
  CHECK(moves[0].args.at(0) == "dead");
  CHECK(moves[0].args.at(1) == "3");
  CHECK(moves[0].args.at(2) == "n2");
  CHECK(moves[0].args.at(3).empty());
  // The index forgets the moved and the expired ones, not the one that moved on by itself.
  std::vector<std::string> forgotten;
  for (const auto& c : calls_named("session_index"))
    forgotten.push_back(c.args.at(1));
  std::sort(forgotten.begin(), forgotten.end());
  CHECK(forgotten == std::vector<std::string>{"a", "c", "d"});
  CHECK(calls_named("lease_release").size() == 1);
}

TEST_CASE_METHOD(adoption_fixture, "two adopters racing: the one without the lease touches nothing") {
  adopt("n1");
  adopt("n2");
  time.run();
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].adopter != outcomes[1].adopter);
  CHECK(calls_named("session_move").size() == 2); // each session moved once, by one adopter
  CHECK(calls_named("CMD ZRANGE").size() == 1);
  CHECK(calls_named("lease_release").size() == 1); // only the holder gives one back
}

TEST_CASE_METHOD(adoption_fixture, "no live node to adopt them: the lease is given back, nothing moved") {
  auto answer = redis->answer;
  redis->answer = [answer](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "node_list") return array_reply({integer_reply(1000)});
    return answer(c);
  };
  adopt("n1");
  time.run();
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].adopted == 0);
  CHECK(calls_named("session_move").empty());
  CHECK(calls_named("lease_release").size() == 1);
}

TEST_CASE_METHOD(adoption_fixture, "a lease acquire with no answer is asked again, then the adoption goes on") {
  auto answer = redis->answer;
  int unanswered = 2;
  redis->answer = [&, answer](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_acquire" && unanswered-- > 0)
      return redis_reply::unavailable("redis did not answer within the time budget");
    return answer(c);
  };
  adopt("n1");
  time.run();
  CHECK(outcomes.empty()); // still asking
  time.advance(500ms);
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].adopter);
  CHECK(outcomes[0].adopted == 2);
  CHECK(calls_named("lease_acquire").size() == 3);
}

TEST_CASE("handoff targets: the fewest sessions first, or each in turn, never the leaving node") {
  std::vector<membership::node_record> nodes(4);
  nodes[0].id = "a";
  nodes[0].state = "active";
  nodes[0].sessions = 3;
  nodes[1].id = "b";
  nodes[1].state = "active";
  nodes[1].sessions = 1;
  nodes[2].id = "c";
  nodes[2].state = "draining";
  nodes[3].id = "leaving";
  nodes[3].state = "active";
  handoff_targets fewest(nodes, "leaving", false);
  std::vector<std::string> picks;
  for (int i = 0; i < 4; ++i)
    picks.push_back(fewest.next().id);
  CHECK(picks == std::vector<std::string>{"b", "b", "a", "b"}); // 1,2 -> b; 3 vs 3 -> a; 4 vs 3 -> b
  handoff_targets turns(nodes, "leaving", true);
  picks.clear();
  for (int i = 0; i < 4; ++i)
    picks.push_back(turns.next().id);
  CHECK(picks == std::vector<std::string>{"a", "b", "a", "b"});
  CHECK(handoff_targets({nodes[2], nodes[3]}, "leaving", false).empty());
}
