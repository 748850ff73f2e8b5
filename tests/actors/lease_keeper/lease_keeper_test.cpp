// The lease keeper on virtual time with a scripted link: KEEP leases renewed every ttl/3 in
// one batch, the `lost` verdict told before the safe end when Redis stalls (to the
// millisecond), at once when Redis says the lease is someone else's, a lost lease given back
// (a renewal on its way may still land) until Redis answers, and a stop that waits for the
// renewal on its way.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/lease_keeper/lease_keeper.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::lease;
using namespace std::chrono_literals;
using redis_link::redis_reply;

namespace {

struct keeper_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::vector<keeper_news> news;
  std::size_t messages = 0; ///< how many times the keeper told the service (one per batch)
  lease_keeper_actor keeper;

  keeper_fixture() {
    redis->answer = [](const redis_link::script_call&) { return test::status_reply(1, "ok"); };
    keeper_settings s;
    s.prefix = "t";
    s.drift_margin = 10ms;
    s.tell = [this](std::vector<keeper_news> told) {
      ++messages;
      for (auto& n : told)
        news.push_back(std::move(n));
    };
    keeper = spawn_lease_keeper(time.system(), test::spawn_fake_link(time.system(), redis), s);
    time.run();
  }
  ~keeper_fixture() {
    caf::anon_send_exit(keeper, caf::exit_reason::user_shutdown);
    time.run();
  }

  void keep(const std::string& name, std::int64_t token, std::chrono::milliseconds ttl) {
    kept_lease k{name, "owner-" + name, token, ttl.count(),
                 std::chrono::duration_cast<std::chrono::nanoseconds>(time.now().time_since_epoch())
                     .count()};
    caf::anon_send(keeper, atoms::keep::value, k);
    time.run();
  }

  std::size_t count(keeper_news::kind what) const {
    std::size_t n = 0;
    for (const auto& x : news)
      n += x.what == what;
    return n;
  }
};

} // namespace

TEST_CASE_METHOD(keeper_fixture, "KEEP leases due together are renewed in one batch at ttl/3") {
  auto start = time.now();
  keep("a", 1, 3000ms);
  keep("b", 2, 3000ms);
  time.advance(400ms);
  keep("c", 3, 3000ms); // due 400 ms later than the others: within ttl/6, so in their batch
  // Due at ttl/3 = 1000 ms after the grants were sent.
  time.advance(599ms);
  CHECK(redis->calls.empty());
  time.advance(1ms);
  REQUIRE(redis->count("lease_renew") == 3);
  auto call_for = [&](const std::string& key) {
    for (const auto& c : redis->calls)
      if (c.keys == std::vector<std::string>{key}) return c;
    FAIL("no renewal of " << key);
    return redis_link::script_call{};
  };
  CHECK(call_for("t:lease:{a}").args == std::vector<std::string>{"owner-a", "1", "3000"});
  // Each renewal's budget is the time its lease has left, not the link's usual budget:
  // safe end (3000 - 10 drift - 300 notice) less the time gone.
  CHECK(call_for("t:lease:{a}").budget_ms == 3000 - 10 - 300 - 1000);
  CHECK(call_for("t:lease:{c}").budget_ms == 3000 - 10 - 300 - 600);
  REQUIRE(count(keeper_news::kind::renewed) == 3);
  CHECK(messages == 1); // the whole batch's news in one hop to the reactor
  // Safe again from when the renewal left: sent + ttl - drift - notice.
  for (const auto& n : news)
    CHECK(n.safe_end == start + 1000ms + 3000ms - 10ms - 300ms);
  // And again one ttl/3 later, for as long as it is kept.
  time.advance(1000ms);
  CHECK(redis->count("lease_renew") == 6);
}

TEST_CASE_METHOD(keeper_fixture, "with Redis stalled the holder hears lost before the safe end") {
  redis->answer = [](const redis_link::script_call&) { return std::nullopt; }; // never answers
  auto start = time.now();
  keep("job", 7, 1000ms);
  // safe end = 1000 - 10 (drift) - 100 (notice) = 890 ms after the grant's request left.
  time.advance(889ms);
  CHECK(count(keeper_news::kind::lost) == 0);
  CHECK(redis->count("lease_renew") == 1); // one renewal on its way, no pile-up
  time.advance(1ms);
  REQUIRE(count(keeper_news::kind::lost) == 1);
  CHECK(news.back().name == "job");
  CHECK(news.back().token == 7);
  CHECK(time.now() == start + 890ms);
  CHECK(time.now() < start + 1000ms - 10ms); // the holder is told while it is still safe
}

TEST_CASE_METHOD(keeper_fixture, "Redis unreachable: renewals retry until the safe end") {
  redis->answer = [](const redis_link::script_call&) {
    return redis_reply::unavailable("connection refused");
  };
  keep("job", 1, 3000ms);
  time.advance(1000ms);
  CHECK(redis->count("lease_renew") == 1);
  // Retries every ttl/10 (300 ms) ...
  time.advance(1000ms);
  CHECK(redis->count("lease_renew") == 4);
  CHECK(count(keeper_news::kind::lost) == 0);
  // ... and once Redis answers again the lease is safe again.
  redis->answer = [](const redis_link::script_call&) { return test::status_reply(1, "ok"); };
  time.advance(300ms);
  CHECK(count(keeper_news::kind::renewed) == 1);
  time.advance(3000ms);
  CHECK(count(keeper_news::kind::lost) == 0);
}

TEST_CASE_METHOD(keeper_fixture, "Redis says the lease is someone else's: lost at once") {
  redis->answer = [](const redis_link::script_call&) {
    return test::status_reply(0, "held by another owner");
  };
  keep("job", 3, 3000ms);
  time.advance(1000ms);
  REQUIRE(count(keeper_news::kind::lost) == 1);
  CHECK(news.back().reason.find("another owner") != std::string::npos);
  time.advance(3000ms);
  CHECK(redis->count("lease_renew") == 1); // not kept any more
}

TEST_CASE_METHOD(keeper_fixture,
                 "the lost verdict gives the lease back: a renewal on its way may still land") {
  redis->answer = [](const redis_link::script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_renew") return std::nullopt;
    return test::status_reply(1, "released");
  };
  keep("job", 4, 1000ms);
  time.advance(890ms);
  REQUIRE(count(keeper_news::kind::lost) == 1);
  REQUIRE(redis->count("lease_give_back") == 1); // at the verdict, under the lost token
  auto release = redis->calls.back();
  CHECK(release.args[0] == "owner-job");
  CHECK(release.args[1] == "4");
  // Released under that token, so the renewal still held cannot have landed after it: its
  // late success asks for nothing more.
  REQUIRE(redis->held.size() == 1);
  redis->answer_held(test::status_reply(1, "renewed"));
  time.run();
  CHECK(redis->count("lease_give_back") == 1);
}

TEST_CASE_METHOD(keeper_fixture,
                 "a give-back Redis does not answer is sent again backing off until it does") {
  redis->answer = [](const redis_link::script_call&) {
    return redis_reply::unavailable("connection refused");
  };
  keep("job", 5, 1000ms);
  time.advance(890ms);
  REQUIRE(count(keeper_news::kind::lost) == 1);
  CHECK(redis->count("lease_give_back") == 1);
  time.advance(249ms);
  CHECK(redis->count("lease_give_back") == 1);
  time.advance(1ms); // 250 ms later
  CHECK(redis->count("lease_give_back") == 2);
  time.advance(500ms); // then twice as long each time
  CHECK(redis->count("lease_give_back") == 3);
  redis->answer = [](const redis_link::script_call&) { return test::status_reply(0, "not-held"); };
  time.advance(1000ms);
  CHECK(redis->count("lease_give_back") == 4);
  time.advance(5000ms); // answered: no more
  CHECK(redis->count("lease_give_back") == 4);
  CHECK(redis->count("lease_renew") < 10); // and the lost lease is not renewed any more
}

TEST_CASE_METHOD(keeper_fixture,
                 "a give-back that finds the lease not held, then a late renewal success: "
                 "given back again") {
  redis->answer = [](const redis_link::script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_renew") return std::nullopt;
    return test::status_reply(0, "not-held");
  };
  keep("job", 6, 1000ms);
  time.advance(890ms);
  REQUIRE(redis->count("lease_give_back") == 1);
  redis->answer_held(test::status_reply(1, "renewed")); // it landed after the give-back
  time.run();
  REQUIRE(redis->count("lease_give_back") == 2);
  CHECK(redis->calls.back().args.at(1) == "6");
}

TEST_CASE_METHOD(keeper_fixture,
                 "abandoned by the service's clock with a renewal on its way: given back") {
  redis->answer = [](const redis_link::script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_renew") return std::nullopt;
    return test::status_reply(1, "released");
  };
  keep("job", 8, 3000ms);
  time.advance(1000ms);
  REQUIRE(redis->held.size() == 1); // the renewal on its way
  caf::anon_send(keeper, atoms::abandon::value, std::string("job"), std::int64_t{8});
  time.run();
  REQUIRE(redis->count("lease_give_back") == 1);
  CHECK(redis->calls.back().args.at(1) == "8");
  CHECK(count(keeper_news::kind::lost) == 0); // the service knew already: nothing to tell
  caf::anon_send(keeper, atoms::abandon::value, std::string("job"), std::int64_t{8});
  time.run();
  CHECK(redis->count("lease_give_back") == 1); // not kept any more: nothing to do
  time.advance(3000ms);
  CHECK(redis->count("lease_renew") == 1);
}

TEST_CASE_METHOD(keeper_fixture, "a new grant of the name ends the give-back of an older token") {
  redis->answer = [](const redis_link::script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_renew") return std::nullopt;
    return redis_reply::unavailable("connection refused");
  };
  keep("job", 9, 1000ms);
  time.advance(890ms);
  REQUIRE(redis->count("lease_give_back") == 1);
  keep("job", 10, 1000ms); // granted again here: the old lease was gone from Redis
  time.advance(800ms);      // past the old give-back's retries, before the new one's verdict
  CHECK(redis->count("lease_give_back") == 1);
}

TEST_CASE_METHOD(keeper_fixture, "forget stops the renewals of that token only") {
  keep("a", 1, 3000ms);
  keep("b", 2, 3000ms);
  caf::anon_send(keeper, atoms::forget::value, std::string("a"), std::int64_t{1});
  caf::anon_send(keeper, atoms::forget::value, std::string("b"), std::int64_t{99}); // stale token
  time.run();
  time.advance(1000ms);
  REQUIRE(redis->count("lease_renew") == 1);
  CHECK(redis->calls[0].keys[0] == "t:lease:{b}");
}

TEST_CASE_METHOD(keeper_fixture, "a holder's RENEW restarts the lease's clock") {
  keep("job", 1, 3000ms);
  time.advance(600ms);
  keep("job", 1, 3000ms); // renewed by its holder at 600 ms: next due at 1600, not 1000
  time.advance(999ms);
  CHECK(redis->calls.empty());
  time.advance(1ms);
  CHECK(redis->count("lease_renew") == 1);
}

TEST_CASE_METHOD(keeper_fixture, "stop_all waits for the renewal on its way, then says stopped") {
  redis->answer = [](const redis_link::script_call&) { return std::nullopt; };
  keep("job", 1, 3000ms);
  time.advance(1000ms);
  REQUIRE(redis->held.size() == 1);
  caf::anon_send(keeper, atoms::stop_all::value);
  time.run();
  CHECK(count(keeper_news::kind::stopped) == 0);
  redis->answer_held(test::status_reply(1, "ok"));
  time.run();
  CHECK(count(keeper_news::kind::stopped) == 1);
  CHECK(count(keeper_news::kind::renewed) == 0); // forgotten: nothing more to tell
  keep("later", 2, 3000ms);                      // a stopping keeper keeps nothing new
  time.advance(2000ms);
  CHECK(redis->count("lease_renew") == 1);
}

TEST_CASE_METHOD(keeper_fixture,
                 "released while a renewal is on its way: a late success is given back") {
  redis->answer = [](const redis_link::script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_renew") return std::nullopt;
    return test::status_reply(1, "released");
  };
  keep("job", 4, 3000ms);
  time.advance(1000ms);
  REQUIRE(redis->held.size() == 1);
  caf::anon_send(keeper, atoms::forget::value, std::string("job"), std::int64_t{4});
  time.run();
  redis->answer_held(test::status_reply(1, "renewed"));
  time.run();
  REQUIRE(redis->count("lease_give_back") == 1);
  CHECK(redis->calls.back().args.at(1) == "4");
  CHECK(count(keeper_news::kind::renewed) == 0); // nothing to tell: it is not held
}

TEST_CASE_METHOD(keeper_fixture, "a holder's longer RENEW during a renewal keeps the later end") {
  redis->answer = [](const redis_link::script_call&) { return std::nullopt; };
  auto start = time.now();
  keep("job", 1, 3000ms);
  time.advance(1000ms);    // the keeper's renewal (3000 ms) leaves and hangs
  keep("job", 1, 10000ms); // the holder renews for 10 s meanwhile
  redis->answer_held(test::status_reply(1, "renewed")); // Redis never shortens a lease
  time.run();
  REQUIRE(count(keeper_news::kind::renewed) == 1);
  // The holder's promise (10 s from 1000 ms) holds, not the keeper's shorter one.
  CHECK(news.back().safe_end == start + 1000ms + 10000ms - 10ms - 1000ms);
  time.advance(4000ms);
  CHECK(count(keeper_news::kind::lost) == 0);
}

TEST_CASE_METHOD(keeper_fixture, "a new Redis master: every kept lease is renewed at once") {
  keep("a", 1, 30000ms);
  keep("b", 2, 30000ms);
  time.advance(100ms);
  CHECK(redis->calls.empty()); // not due for 10 s
  // The new master lacks b (the failover lost its grant): b is lost now, a renewed.
  redis->answer = [](const redis_link::script_call& c) {
    return c.keys[0] == "t:lease:{b}" ? test::status_reply(0, "not-held")
                                      : test::status_reply(1, "30000");
  };
  caf::anon_send(keeper, atoms::check_all::value);
  time.run();
  CHECK(redis->count("lease_renew") == 2);
  REQUIRE(count(keeper_news::kind::lost) == 1);
  REQUIRE(count(keeper_news::kind::renewed) == 1);
  for (const auto& n : news)
    CHECK(n.name == (n.what == keeper_news::kind::lost ? "b" : "a"));
}

TEST_CASE_METHOD(keeper_fixture, "a renewal on its way when the master moves is asked again") {
  redis->answer = [](const redis_link::script_call&) { return std::nullopt; }; // held
  keep("a", 1, 3000ms);
  time.advance(1000ms); // the renewal at ttl/3 leaves and waits
  REQUIRE(redis->count("lease_renew") == 1);
  caf::anon_send(keeper, atoms::check_all::value);
  time.run();
  CHECK(redis->count("lease_renew") == 1); // no second renewal while one is on its way
  // The old master answers it; the new one lacks the lease.
  redis->answer = [](const redis_link::script_call&) { return test::status_reply(0, "not-held"); };
  redis->answer_held(test::status_reply(1, "3000"));
  time.run();
  CHECK(redis->count("lease_renew") == 2); // asked again, of the new master
  REQUIRE(count(keeper_news::kind::lost) == 1);
  CHECK(count(keeper_news::kind::renewed) == 0); // the old master's answer did not count
}

TEST_CASE_METHOD(keeper_fixture, "give-backs due together leave in one batch") {
  redis->answer = [](const redis_link::script_call& c) -> std::optional<redis_reply> {
    if (c.name == "lease_renew") return std::nullopt;
    return test::status_reply(1, "released");
  };
  keep("a", 1, 1000ms);
  keep("b", 2, 1000ms);
  keep("c", 3, 1000ms);
  time.advance(890ms);
  REQUIRE(count(keeper_news::kind::lost) == 3);
  CHECK(redis->count("lease_give_back") == 3);
  CHECK(redis->batches_of("lease_give_back") == 1);
}
