// A secret rotation on virtual time, with a scripted link and scripted hooks: the steps in
// order, every write fenced by the lease's token; a rotation killed at each step and the next
// one finishing (or, with a value of its own, rolling back) what it left; a busy lease; hook
// failures rolled back; and the whole rotation bounded by the lease's TTL.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <set>

#include "actors/secret_rotation/rotation_actor.hpp"
#include "model/lease/lease_holder.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/test_keys.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::secret;
using namespace std::chrono_literals;
using protocol::error_code;
using redis_link::redis_reply;
using redis_link::script_call;
using test::array_reply;
using test::integer_reply;
using test::status_reply;
using test::string_reply;

namespace {

// Hooks answered by the test: a function of the job, or held (never answered) when it
// returns nullptr.
struct fake_hooks {
  std::vector<hook_job> jobs;
  std::function<hook_reply(const hook_job&)> answer;
};

hook_runner_actor spawn_fake_hooks(caf::actor_system& system, std::shared_ptr<fake_hooks> hooks) {
  return system.spawn([hooks](hook_runner_actor::pointer self) -> hook_runner_actor::behavior_type {
    return {
        [=](atoms::hook, hook_job& job) -> caf::result<hook_reply> {
          hooks->jobs.push_back(job);
          if (auto r = hooks->answer(job)) return r;
          return self->make_response_promise<hook_reply>(); // never kept: a hung hook
        },
    };
  });
}

hook_reply hook_ok(const std::string& output) {
  auto r = std::make_shared<hook_result>();
  r->ok = true;
  r->output = secure_bytes(output);
  return r;
}

hook_reply hook_failed(const std::string& why) {
  auto r = std::make_shared<hook_result>();
  r->why = why;
  return r;
}

struct rotation_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::shared_ptr<fake_hooks> hooks = std::make_shared<fake_hooks>();
  std::shared_ptr<keyring> keys = test::test_keys(7);
  std::vector<rotation_step> steps;
  std::vector<protocol::result<rotation_success>> outcomes;
  std::shared_ptr<rotation_deps> deps = std::make_shared<rotation_deps>();
  /// What the scripted Redis answers to secret_begin, and the record secret_read returns.
  redis_reply begin_reply =
      array_reply({string_reply("fresh"), integer_reply(5), integer_reply(1000)});
  redis_reply record_reply = array_reply({integer_reply(1000)});
  std::string stop_at; ///< a script left unanswered (Redis stalls there)

  rotation_fixture() {
    redis->answer = [this](const script_call& c) -> std::optional<redis_reply> {
      if (c.name == stop_at) return std::nullopt;
      if (c.name == "lease_acquire") return array_reply({integer_reply(1), integer_reply(42)});
      if (c.name == "secret_begin") return begin_reply;
      if (c.name == "secret_read") return record_reply;
      if (c.name == "secret_promote")
        return array_reply(
            {integer_reply(1), integer_reply(3), string_reply("promoted"), integer_reply(4)});
      return status_reply(1, "ok"); // stage, abort, lease_release
    };
    hooks->answer = [](const hook_job&) { return hook_ok("from-the-hook\n"); };
    deps->link = test::spawn_fake_link(time.system(), redis);
    deps->hooks = spawn_fake_hooks(time.system(), hooks);
    deps->keys = keys;
    deps->settings.rotation_lease = 30000ms;
    deps->settings.hook_timeout = 10000ms;
    deps->prefix = "t";
    deps->node_id = "n1";
    deps->run_id = "r1";
    deps->on_step = [this](const std::string&, rotation_step s) { steps.push_back(s); };
  }

  caf::actor start(rotation_request request) {
    auto a = spawn_rotation(
        time.system(), deps, std::move(request),
        [this](protocol::result<rotation_success> r) { outcomes.push_back(std::move(r)); });
    time.run();
    return a;
  }

  static rotation_request request_for(const std::string& name) {
    rotation_request r;
    r.name = name;
    r.grace = 60000ms;
    return r;
  }

  /// A request for a secret the config names with these hooks.
  static rotation_request with_hooks(const std::string& name, const std::string& test_hook,
                                     const std::string& generate_hook = {}) {
    auto r = request_for(name);
    secret_item item;
    item.name = name;
    item.test_hook = test_hook;
    item.generate_hook = generate_hook;
    r.item = item;
    return r;
  }

  // A pending version 5 of `name`, sealed as a killed rotator would have left it.
  void leave_pending(const std::string& name, const std::string& value) {
    sealed_version sealed;
    std::string error;
    REQUIRE(seal(*keys, name, "5", secure_bytes(value), sealed, error));
    begin_reply = array_reply(
        {string_reply("resume"), integer_reply(5), string_reply("staged"), integer_reply(1000)});
    record_reply =
        array_reply({integer_reply(1000), string_reply("v5.state"), string_reply("pending"),
                     string_reply("v5.kek"), string_reply(sealed.kek_id), string_reply("v5.wkey"),
                     string_reply(sealed.wrapped_key), string_reply("v5.ct"),
                     string_reply(sealed.ciphertext), string_reply("pending"), string_reply("5")});
  }

  /// The only outcome, as a rotation that promoted a version (the test fails if it is not).
  const rotated& rotated_outcome() const {
    REQUIRE(outcomes.size() == 1);
    REQUIRE(outcomes[0].ok());
    const auto* done = std::get_if<rotated>(&*outcomes[0]);
    REQUIRE(done != nullptr);
    return *done;
  }

  /// The only outcome, as a failure (the test fails if it succeeded).
  const protocol::failure& failed_outcome() const {
    REQUIRE(outcomes.size() == 1);
    REQUIRE_FALSE(outcomes[0].ok());
    return outcomes[0].error();
  }

  std::vector<std::string> script_names() const {
    std::vector<std::string> names;
    for (const auto& c : redis->calls)
      names.push_back(c.name);
    return names;
  }
};

} // namespace

TEST_CASE_METHOD(rotation_fixture,
                 "a fresh rotation takes its steps in order, fenced by its lease") {
  auto request = with_hooks("stripe", "try-it");
  start(std::move(request));
  const auto& done = rotated_outcome();
  CHECK(done.version == 5);
  CHECK(done.previous == 4);
  CHECK(done.epoch == 3);
  CHECK_FALSE(done.finished_earlier);
  CHECK(steps == std::vector<rotation_step>{rotation_step::taking_lease, rotation_step::beginning,
                                            rotation_step::obtaining_value, rotation_step::staging,
                                            rotation_step::testing, rotation_step::promoting,
                                            rotation_step::done});
  CHECK(script_names() == std::vector<std::string>{"lease_acquire", "secret_begin", "secret_stage",
                                                   "secret_promote", "lease_release"});
  // Every write carries the lease's token as its fence.
  for (const auto& c : redis->calls)
    if (c.name.rfind("secret_", 0) == 0) CHECK(c.args.at(0) == "42");
  CHECK(redis->calls.back().args.at(1) == "42"); // the lease given back is the one taken
  // The test hook was given the new value and the hook environment.
  REQUIRE(hooks->jobs.size() == 1);
  CHECK(hooks->jobs[0].command == "try-it");
  CHECK(hooks->jobs[0].environment ==
        std::vector<std::string>{"BATON_SECRET=stripe", "BATON_SECRET_VERSION=5", "BATON_NODE=n1"});
  CHECK(hooks->jobs[0].input->size() == 64); // 32 random bytes as hex
}

TEST_CASE_METHOD(rotation_fixture, "a generate hook's value is sealed without its newline") {
  auto request = with_hooks("db", "", "new-key");
  start(std::move(request));
  rotated_outcome();
  // What was staged opens to the hook's output, newline gone.
  script_call stage;
  for (const auto& c : redis->calls)
    if (c.name == "secret_stage") stage = c;
  sealed_version sealed{stage.args.at(2), stage.args.at(3), stage.args.at(4)};
  secure_bytes value;
  std::string error;
  REQUIRE(open(*keys, "db", "5", sealed, value, error));
  CHECK(std::string(reinterpret_cast<const char*>(value.data()), value.size()) == "from-the-hook");
}

TEST_CASE_METHOD(rotation_fixture, "another daemon rotating: busy, and nothing written") {
  redis->answer = [](const script_call&) {
    return array_reply(
        {integer_reply(0), string_reply("held"), integer_reply(9), string_reply("n2")});
  };
  start(request_for("stripe"));
  const auto& busy = failed_outcome();
  CHECK(busy.code == error_code::busy);
  CHECK(busy.why == "a rotation of this secret is running on node n2");
  // The rotation lease's holder is the context.
  REQUIRE(busy.context_as<lease::lease_holder>() != nullptr);
  CHECK(busy.context_as<lease::lease_holder>()->node == "n2");
  CHECK(script_names() == std::vector<std::string>{"lease_acquire"});
}

TEST_CASE_METHOD(rotation_fixture,
                 "killed at any step, the next rotation finishes the pending version") {
  // Where Redis stalls before the daemon dies; whatever it had staged is what the next finds.
  auto where = GENERATE(as<std::string>{}, "secret_begin", "secret_stage", "secret_promote");
  stop_at = where;
  auto first = start(request_for("stripe"));
  CHECK(outcomes.empty());
  // It got as far as that step and no further: nothing after it reached Redis.
  REQUIRE_FALSE(redis->calls.empty());
  CHECK(redis->calls.back().name == where);
  caf::anon_send_exit(first, caf::exit_reason::kill); // kill -9 of the daemon, as the actor sees it
  time.run();
  CHECK(outcomes.empty()); // a killed rotation tells nothing
  CHECK(redis->calls.back().name == where);
  // The next rotation (say, on another daemon) finds version 5 pending and finishes it.
  stop_at.clear();
  leave_pending("stripe", "the-staged-value");
  redis->calls.clear();
  steps.clear();
  auto request = with_hooks("stripe", "try-it");
  start(std::move(request));
  const auto& done = rotated_outcome();
  CHECK(done.finished_earlier);
  CHECK(done.version == 5);
  CHECK(script_names() == std::vector<std::string>{"lease_acquire", "secret_begin", "secret_read",
                                                   "secret_promote", "lease_release"});
  // The test hook tried the value that had been staged, not a new one.
  REQUIRE_FALSE(hooks->jobs.empty());
  auto& input = *hooks->jobs.back().input;
  CHECK(std::string(reinterpret_cast<const char*>(input.data()), input.size()) ==
        "the-staged-value");
}

TEST_CASE_METHOD(rotation_fixture,
                 "a PUT that finds a half-done rotation rolls it back and begins again") {
  leave_pending("stripe", "old-staged");
  int begins = 0;
  auto answer = redis->answer;
  redis->answer = [&, answer](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "secret_begin" && begins++ > 0)
      return array_reply({string_reply("fresh"), integer_reply(6), integer_reply(1000)});
    return answer(c);
  };
  auto request = request_for("stripe");
  request.value = secure_bytes(std::string_view("given-by-put"));
  request.hooks = false;
  start(std::move(request));
  CHECK(rotated_outcome().version == 6);
  CHECK(script_names() == std::vector<std::string>{"lease_acquire", "secret_begin", "secret_abort",
                                                   "secret_begin", "secret_stage", "secret_promote",
                                                   "lease_release"});
  CHECK(redis->calls[2].args == std::vector<std::string>{"42", "5"}); // abort names version 5
}

TEST_CASE_METHOD(rotation_fixture, "a test hook that refuses rolls the staged version back") {
  hooks->answer = [](const hook_job&) { return hook_failed("exited with status 3"); };
  auto request = with_hooks("stripe", "try-it");
  start(std::move(request));
  const auto& failed = failed_outcome();
  CHECK(failed.code == error_code::err);
  CHECK(failed.why.find("status 3") != std::string::npos);
  CHECK(script_names() == std::vector<std::string>{"lease_acquire", "secret_begin", "secret_stage",
                                                   "secret_abort", "lease_release"});
}

TEST_CASE_METHOD(rotation_fixture, "a rotation still running when its lease ends stops, failed") {
  hooks->answer = [](const hook_job&) { return hook_reply(); }; // a hook that never ends
  deps->settings.hook_timeout = 60000ms; // longer than the lease: the lease's bound wins
  auto request = with_hooks("stripe", "", "hangs");
  start(std::move(request));
  time.advance(29999ms);
  CHECK(outcomes.empty());
  time.advance(1ms);
  const auto& failed = failed_outcome();
  CHECK(failed.code == error_code::err);
  CHECK(failed.why.find("obtaining_value") != std::string::npos);
  CHECK(redis->count("lease_release") == 1);
  CHECK(redis->count("secret_stage") == 0);
  // The version it began is rolled back, fenced by its token, before the lease goes.
  REQUIRE(redis->count("secret_abort") == 1);
  CHECK(redis->calls[redis->calls.size() - 2].name == "secret_abort");
  CHECK(redis->calls[redis->calls.size() - 2].args == std::vector<std::string>{"42", "5"});
}

TEST_CASE_METHOD(rotation_fixture, "a reply that comes after the lease's end is ignored") {
  stop_at = "secret_stage"; // Redis stalls on the stage
  start(request_for("stripe"));
  time.advance(30000ms);
  const auto& failed = failed_outcome();
  CHECK(failed.code == error_code::err);
  CHECK(failed.why.find("staging") != std::string::npos);
  REQUIRE(!redis->held.empty());
  redis->answer_held(test::status_reply(1, "staged")); // the stage's late reply
  time.run();
  CHECK(outcomes.size() == 1);                // told once
  CHECK(redis->count("secret_promote") == 0); // and nothing after it
}

TEST_CASE_METHOD(rotation_fixture, "Redis unreachable: unavailable, and nothing half-written") {
  redis->answer = [](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_acquire") return array_reply({integer_reply(1), integer_reply(42)});
    return redis_reply::unavailable("connection refused");
  };
  start(request_for("stripe"));
  const auto& unavailable = failed_outcome();
  CHECK(unavailable.code == error_code::unavailable);
  CHECK(unavailable.why == "connection refused");
  CHECK(redis->count("secret_stage") == 0);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a lease acquire with no answer is settled: given back if it landed") {
  int acquires = 0;
  auto answer = redis->answer;
  redis->answer = [&, answer](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_acquire" && acquires++ < 3)
      return redis_reply::unavailable("redis did not answer within the time budget");
    return answer(c); // then Redis answers again: the lease (same owner) is ours
  };
  start(request_for("stripe"));
  // The caller hears UNAVAILABLE at once, not after the settling.
  CHECK(failed_outcome().code == error_code::unavailable);
  time.advance(1000ms);
  CHECK(acquires == 4);
  // Every acquire was made as the same owner, and the lease it got is given back.
  std::set<std::string> owners;
  for (const auto& c : redis->calls)
    if (c.name == "lease_acquire") owners.insert(c.args.at(0));
  CHECK(owners.size() == 1);
  CHECK(redis->count("lease_release") == 1);
  CHECK(redis->count("secret_begin") == 0); // it did not go on rotating
  CHECK(outcomes.size() == 1);
}

TEST_CASE_METHOD(rotation_fixture,
                 "a scheduled rotation that is not due does nothing and says so") {
  begin_reply = array_reply({string_reply("not-due"), integer_reply(500)});
  auto request = request_for("stripe");
  request.due = 86400000ms;
  start(std::move(request));
  REQUIRE(outcomes.size() == 1);
  REQUIRE(outcomes[0].ok());
  CHECK(std::holds_alternative<rotation_not_due>(*outcomes[0]));
  CHECK(redis->calls[1].args.at(1) == "86400000"); // the schedule is Redis' to judge
  CHECK(script_names() ==
        std::vector<std::string>{"lease_acquire", "secret_begin", "lease_release"});
}
