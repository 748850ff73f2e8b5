// The heartbeat on virtual time with a scripted link: a beat at once and then every interval,
// carrying the session count the session service publishes; drain answers once Redis has the
// draining record; leave removes the record and ends the beats; Redis down answers false.
#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/membership/membership_actor.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::membership;
using namespace std::chrono_literals;
using redis_link::redis_reply;

namespace {

struct heartbeat_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::shared_ptr<std::atomic<std::int64_t>> sessions =
      std::make_shared<std::atomic<std::int64_t>>(0);
  membership_actor heartbeat;

  heartbeat_fixture() {
    redis->answer = [](const redis_link::script_call&) {
      return test::array_reply({test::integer_reply(1000), test::integer_reply(0)});
    };
    heartbeat_settings s;
    s.prefix = "t";
    s.node_id = "n1";
    s.heartbeat = 1000ms;
    s.ttl = 5000ms;
    s.sessions = sessions;
    heartbeat = spawn_membership(time.system(), test::spawn_fake_link(time.system(), redis), s);
    time.run();
  }
  ~heartbeat_fixture() {
    caf::anon_send_exit(heartbeat, caf::exit_reason::user_shutdown);
    time.run();
  }

  nlohmann::json last_record() const {
    for (auto it = redis->calls.rbegin(); it != redis->calls.rend(); ++it)
      if (it->name == "node_heartbeat") return nlohmann::json::parse(it->args.at(1));
    return {};
  }

  // Asks the heartbeat from a test actor; the answer, if any came.
  std::optional<bool> ask(caf::atom_value which) {
    auto answer = std::make_shared<std::optional<bool>>();
    time.system().spawn([=](caf::event_based_actor* self) {
      auto then = [=](bool ok) { *answer = ok; };
      auto err = [](caf::error&) {};
      if (which == atoms::drain::value)
        self->request(heartbeat, 10s, atoms::drain::value).then(then, err);
      else
        self->request(heartbeat, 10s, atoms::leave::value).then(then, err);
    });
    time.run();
    return *answer;
  }
};

} // namespace

TEST_CASE_METHOD(heartbeat_fixture, "a beat at once, then one per interval, with the session count") {
  REQUIRE(redis->count("node_heartbeat") == 1);
  CHECK(redis->calls[0].keys == std::vector<std::string>{"t:{nodes}", "t:{nodes}:seen"});
  CHECK(redis->calls[0].args.at(0) == "n1");
  CHECK(redis->calls[0].args.at(2) == "5000");
  CHECK(redis->calls[0].budget_ms == 1000); // a slow beat is overtaken by the next
  CHECK(last_record()["state"] == "active");
  sessions->store(42);
  time.advance(999ms);
  CHECK(redis->count("node_heartbeat") == 1);
  time.advance(1ms);
  CHECK(redis->count("node_heartbeat") == 2);
  CHECK(last_record()["sessions"] == 42);
  time.advance(3000ms);
  CHECK(redis->count("node_heartbeat") == 5);
}

TEST_CASE_METHOD(heartbeat_fixture, "drain beats at once as draining and answers once Redis has it") {
  auto ok = ask(atoms::drain::value);
  REQUIRE(ok);
  CHECK(*ok);
  CHECK(redis->count("node_heartbeat") == 2);
  CHECK(redis->calls.back().args.at(4) == "draining");
  CHECK(last_record()["state"] == "draining");
  time.advance(1000ms); // and stays draining in later beats
  CHECK(last_record()["state"] == "draining");
}

TEST_CASE_METHOD(heartbeat_fixture, "drain with Redis down answers false") {
  redis->answer = [](const redis_link::script_call&) {
    return redis_reply::unavailable("connection refused");
  };
  auto ok = ask(atoms::drain::value);
  REQUIRE(ok);
  CHECK_FALSE(*ok);
}

TEST_CASE_METHOD(heartbeat_fixture, "leave removes the record and no beat follows") {
  auto ok = ask(atoms::leave::value);
  REQUIRE(ok);
  CHECK(*ok);
  CHECK(redis->calls.back().name == "node_leave");
  CHECK(redis->calls.back().args == std::vector<std::string>{"n1", "t:node-events"});
  auto beats = redis->count("node_heartbeat");
  time.advance(5000ms);
  CHECK(redis->count("node_heartbeat") == beats);
}
