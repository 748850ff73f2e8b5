// The Redis health sampler on virtual time with a scripted link: a sample at once (INFO, then
// LATENCY LATEST, then SLOWLOG LEN) and then a period after each one ends; never two at once
// while Redis is slow; a failed sample is published as failed and the next comes within a
// second; a refused LATENCY or SLOWLOG leaves those unknown without failing the sample; on a
// Cluster every primary's INFO is read too.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/redis_health/redis_health_actor.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::redis_health;
using namespace std::chrono_literals;
using redis_link::redis_reply;

namespace {

redis_reply error_reply(std::string text) {
  redis_reply r;
  r.kind = redis_link::reply_kind::error;
  r.str = std::move(text);
  return r;
}

struct sampler_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::vector<health_sample> published;
  bool latency_refused = false;
  bool info_down = false;
  bool info_refused = false;
  bool stall = false;
  redis_health_actor sampler;

  explicit sampler_fixture(bool each_primary = false) {
    redis->answer = [this](const redis_link::script_call& c) -> std::optional<redis_reply> {
      if (stall) return std::nullopt;
      if (c.name == "CMD INFO")
        return info_refused ? error_reply("NOPERM this user has no permissions to run 'info'")
               : info_down  ? redis_reply::unavailable("no connection to redis")
                         : test::string_reply("# Server\r\nredis_version:7.0.15\r\nrole:master\r\n"
                                              "used_memory:1000\r\nkeyspace_hits:3\r\n"
                                              "keyspace_misses:1\r\n");
      if (c.name == "CMD LATENCY")
        return latency_refused
                   ? error_reply("NOPERM this user has no permissions to run 'latency'")
                   : test::array_reply({test::array_reply(
                         {test::string_reply("command"), test::integer_reply(1),
                          test::integer_reply(15), test::integer_reply(20)})});
      if (c.name == "CMD SLOWLOG") return test::integer_reply(4);
      if (c.name == "EACH INFO") // a Cluster's primaries: one answers, one does not
        return test::array_reply(
            {test::array_reply({test::string_reply("127.0.0.1:7000"),
                                test::string_reply("redis_version:7.0.15\r\nrole:master\r\n"
                                                   "used_memory:7000\r\n")}),
             test::array_reply({test::string_reply("127.0.0.1:7001"),
                                redis_reply::unanswered("no answer in time")})});
      return error_reply("ERR unexpected " + c.name);
    };
    sampler_settings s;
    s.period = 5000ms;
    s.publish = [this](health_sample h) { published.push_back(std::move(h)); };
    s.unix_ms = [] { return std::int64_t{1700000000000}; };
    s.each_primary = each_primary;
    sampler = spawn_redis_health(time.system(), test::spawn_fake_link(time.system(), redis), s);
    time.run();
  }
  ~sampler_fixture() {
    caf::anon_send_exit(sampler, caf::exit_reason::user_shutdown);
    time.run();
  }
};

struct cluster_sampler_fixture : sampler_fixture {
  cluster_sampler_fixture() : sampler_fixture(true) {}
};

} // namespace

TEST_CASE_METHOD(sampler_fixture, "a sample at once, then a period after each, never KEYS") {
  REQUIRE(published.size() == 1);
  REQUIRE(published[0].server);
  CHECK(published[0].server->used_memory == 1000);
  CHECK(*published[0].server->hit_ratio() == Approx(0.75));
  REQUIRE(published[0].server->latency.size() == 1);
  CHECK(published[0].server->latency[0].latest_ms == 15);
  CHECK(published[0].server->slowlog_length == 4);
  CHECK(published[0].samples == 1);
  CHECK(published[0].failures == 0);
  CHECK(published[0].last_good_unix_ms == 1700000000000);
  std::vector<std::string> names;
  for (const auto& c : redis->calls)
    names.push_back(c.name);
  CHECK(names == std::vector<std::string>{"CMD INFO", "CMD LATENCY", "CMD SLOWLOG"});
  CHECK(published[0].primaries.empty()); // not a Cluster: no per-primary INFO
  time.advance(4999ms);
  CHECK(published.size() == 1);
  time.advance(1ms);
  CHECK(published.size() == 2);
  CHECK(redis->count("CMD INFO") == 2);
  CHECK(redis->count("CMD KEYS") == 0);
  CHECK(redis->count("CMD SCAN") == 0);
}

TEST_CASE_METHOD(sampler_fixture, "a slow Redis gets one sample at a time") {
  stall = true;
  time.advance(5000ms); // the second sample's INFO is sent and not answered
  REQUIRE(redis->count("CMD INFO") == 2);
  time.advance(1000ms); // within its budget (the call timeout and a margin): nothing more
  CHECK(redis->count("CMD INFO") == 2);
  CHECK(published.size() == 1);
  stall = false;
  redis->answer_held(test::string_reply("redis_version:7.0.15\r\nrole:master\r\n"));
  time.advance(1ms);
  CHECK(published.size() == 2);
  CHECK(published.back().server);
}

TEST_CASE_METHOD(sampler_fixture, "a failed sample is published as failed, and the next comes within a second") {
  info_down = true;
  time.advance(5000ms);
  REQUIRE(published.size() == 2);
  CHECK_FALSE(published.back().server);
  CHECK(published.back().error == "no connection to redis");
  CHECK(published.back().failures == 1);
  CHECK(published.back().last_good_unix_ms == 1700000000000); // the first one's
  info_down = false;
  time.advance(1000ms);
  REQUIRE(published.size() == 3);
  CHECK(published.back().server);
  CHECK(published.back().samples == 3);
  CHECK(published.back().failures == 1);
}

TEST_CASE_METHOD(sampler_fixture, "a refused LATENCY leaves the spikes unknown, the sample good") {
  latency_refused = true;
  time.advance(5000ms);
  REQUIRE(published.size() == 2);
  REQUIRE(published.back().server);
  CHECK(published.back().server->latency.empty());
  CHECK(published.back().server->slowlog_length == 4);
  CHECK(published.back().failures == 0);
}

TEST_CASE_METHOD(sampler_fixture, "a refused INFO fails the sample, and the next waits the whole period") {
  info_refused = true;
  time.advance(5000ms);
  REQUIRE(published.size() == 2);
  CHECK_FALSE(published.back().server);
  CHECK(published.back().error.rfind("NOPERM", 0) == 0);
  time.advance(4999ms); // not retried within a second: it would be refused again
  CHECK(published.size() == 2);
  time.advance(1ms);
  CHECK(published.size() == 3);
}

TEST_CASE_METHOD(sampler_fixture, "a sample the link never answers is given up after its budget") {
  stall = true;
  time.advance(5000ms);
  REQUIRE(redis->count("CMD INFO") == 2);
  time.advance(1250ms); // the call timeout (250 ms) and the margin
  REQUIRE(published.size() == 2);
  CHECK_FALSE(published.back().server);
  stall = false;
  time.advance(1000ms); // unanswered: the next within a second
  CHECK(redis->count("CMD INFO") == 3);
}

TEST_CASE_METHOD(cluster_sampler_fixture,
                 "on a Cluster every primary's INFO is read, and one that does not answer is "
                 "shown failed without failing the sample") {
  REQUIRE(published.size() == 1);
  std::vector<std::string> names;
  for (const auto& c : redis->calls)
    names.push_back(c.name);
  CHECK(names ==
        std::vector<std::string>{"CMD INFO", "CMD LATENCY", "CMD SLOWLOG", "EACH INFO"});
  const auto& sample = published[0];
  REQUIRE(sample.server);
  REQUIRE(sample.primaries.size() == 2);
  CHECK(sample.primaries[0].address == "127.0.0.1:7000");
  REQUIRE(sample.primaries[0].server);
  CHECK(sample.primaries[0].server->used_memory == 7000);
  CHECK(sample.primaries[1].address == "127.0.0.1:7001");
  CHECK_FALSE(sample.primaries[1].server);
  CHECK(sample.primaries[1].error == "no answer in time");
  CHECK(sample.failures == 0);
  // The server the main INFO reaches fails (it may be the primary that stalls): the others
  // are still read.
  info_down = true;
  time.advance(5000ms);
  REQUIRE(published.size() == 2);
  CHECK_FALSE(published.back().server);
  CHECK(published.back().primaries.size() == 2);
  CHECK(redis->count("EACH INFO") == 2);
  // The link answers nothing at all: the primaries are unknown, not as they were.
  info_down = false;
  stall = true;
  time.advance(1000ms);
  time.advance(1250ms);
  REQUIRE(published.size() == 3);
  CHECK_FALSE(published.back().server);
  CHECK(published.back().primaries.empty());
}
