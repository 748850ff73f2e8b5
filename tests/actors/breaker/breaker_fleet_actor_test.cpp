// The fleet side of breakers on virtual time, with a scripted link: a trip is counted in
// Redis and adopted from its answer; a probe is asked for when due, again while another host
// holds it, and when Redis' open time ends a little later than this host's; a grant says which
// half-open period it belongs to; the holder's result settles; announcements are adopted,
// newest generation first; windows are collected once per interval and written in one batch.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "actors/breaker/breaker_fleet_actor.hpp"
#include "tests/support/fake_link.hpp"
#include "tests/support/virtual_time.hpp"

using namespace baton;
using namespace baton::breaker;
using namespace std::chrono_literals;
using redis_link::redis_reply;
using redis_link::script_call;
using test::array_reply;
using test::integer_reply;
using test::string_reply;

namespace {

struct fleet_fixture {
  test::virtual_time time;
  std::shared_ptr<test::fake_link_script> redis = std::make_shared<test::fake_link_script>();
  std::vector<fleet_news> news;
  std::function<std::optional<redis_reply>(const script_call&)> answer;
  breaker_fleet_actor fleet;

  fleet_fixture() {
    redis->answer = [this](const script_call& c) { return answer(c); };
    answer = [](const script_call&) -> std::optional<redis_reply> { return integer_reply(1); };
    fleet_settings s;
    s.prefix = "t";
    s.node_id = "a";
    s.sync_interval = 1000ms;
    s.probe_retry = 200ms;
    s.tell = [this](std::vector<fleet_news> batch) {
      for (auto& n : batch)
        news.push_back(std::move(n));
    };
    fleet = spawn_breaker_fleet(time.system(), test::spawn_fake_link(time.system(), redis), s);
    time.run();
  }
  ~fleet_fixture() {
    caf::anon_send_exit(fleet, caf::exit_reason::user_shutdown);
    time.run();
  }

  static fleet_rules rules(int hosts = 1) {
    fleet_rules r;
    r.name = "pay";
    r.hosts_needed = hosts;
    r.window_ms = 60000;
    r.open_ms = 800;
    r.probe_ttl_ms = 5000;
    return r;
  }
  void move(breaker_move::kind what, std::int64_t floor = 1) {
    breaker_move m;
    m.rules = rules();
    m.what = static_cast<std::int32_t>(what);
    m.generation_floor = floor;
    caf::anon_send(fleet, atoms::moved::value, m);
    time.run();
  }
  std::vector<fleet_news> of_kind(fleet_news::kind k) const {
    std::vector<fleet_news> out;
    for (const auto& n : news)
      if (n.what == k) out.push_back(n);
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(fleet_fixture, "a trip is counted in Redis and the fleet's answer adopted") {
  answer = [](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "breaker_trip")
      return array_reply({integer_reply(1), integer_reply(5000), integer_reply(800),
                          integer_reply(1)});
    return integer_reply(1);
  };
  move(breaker_move::kind::tripped, 3);
  REQUIRE(redis->count("breaker_trip") == 1);
  const auto& call = redis->calls.back();
  CHECK(call.keys.at(0) == "t:breaker:{pay}");
  CHECK(call.args.at(0) == "a");   // this node
  CHECK(call.args.at(1) == "1");   // hosts needed
  CHECK(call.args.at(6) == "3");   // the generation floor
  auto adopted = of_kind(fleet_news::kind::adopt);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0].shared.state == breaker_state::open);
  CHECK(adopted[0].shared.generation == 5000);
  CHECK(adopted[0].shared.open_remaining == 800ms);
  CHECK(adopted[0].shared.tripped_by == "a");
}

TEST_CASE_METHOD(fleet_fixture, "a quorum not reached yet changes nothing here") {
  answer = [](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "breaker_trip")
      return array_reply({integer_reply(3), integer_reply(1), integer_reply(2)});
    return integer_reply(1);
  };
  move(breaker_move::kind::tripped);
  CHECK(of_kind(fleet_news::kind::adopt).empty());
}

TEST_CASE_METHOD(fleet_fixture, "the probe is asked for again while another host holds it") {
  int asked = 0;
  answer = [&](const script_call& c) -> std::optional<redis_reply> {
    if (c.name != "breaker_probe") return integer_reply(1);
    ++asked;
    if (asked == 1) // Redis' open time ends 30 ms after this host's
      return array_reply({integer_reply(0), string_reply("open"), integer_reply(7),
                          string_reply("30")});
    if (asked < 4) // then another host holds it
      return array_reply({integer_reply(0), string_reply("half-open"), integer_reply(8),
                          string_reply("b")});
    return array_reply({integer_reply(1), integer_reply(8)});
  };
  move(breaker_move::kind::probe_due);
  CHECK(asked == 1);
  time.advance(29ms);
  CHECK(asked == 1);
  time.advance(1ms); // when Redis' open time is over
  CHECK(asked == 2);
  time.advance(199ms);
  CHECK(asked == 2);
  time.advance(1ms); // every probe_retry while b holds it
  CHECK(asked == 3);
  time.advance(200ms);
  CHECK(asked == 4);
  auto granted = of_kind(fleet_news::kind::probe_granted);
  REQUIRE(granted.size() == 1);
  CHECK(granted[0].probe_ttl == 5000ms);
  CHECK(granted[0].shared.state == breaker_state::half_open); // its period, to adopt first
  CHECK(granted[0].shared.generation == 8);
  time.advance(1000ms);
  CHECK(asked == 4); // holding it: nothing more until its TTL ran out
}

TEST_CASE_METHOD(fleet_fixture, "the holder's probe result settles the breaker for the fleet") {
  answer = [](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "breaker_settle")
      return array_reply({integer_reply(1), string_reply(c.args.at(1) == "ok" ? "closed" : "open"),
                          integer_reply(9000), integer_reply(c.args.at(1) == "ok" ? 0 : 1600),
                          integer_reply(c.args.at(1) == "ok" ? 0 : 2)});
    return integer_reply(1);
  };
  move(breaker_move::kind::probe_failed);
  move(breaker_move::kind::probe_passed);
  REQUIRE(redis->count("breaker_settle") == 2);
  auto adopted = of_kind(fleet_news::kind::adopt);
  REQUIRE(adopted.size() == 2);
  CHECK(adopted[0].shared.state == breaker_state::open);
  CHECK(adopted[0].shared.open_remaining == 1600ms);
  CHECK(adopted[0].shared.consecutive_trips == 2);
  CHECK(adopted[1].shared.state == breaker_state::closed);
}

TEST_CASE_METHOD(fleet_fixture, "announcements are adopted, and one of half-open elsewhere makes this host ready to probe") {
  caf::anon_send(fleet, atoms::sync::value, std::vector<fleet_rules>{rules()});
  time.run();
  news.clear();
  int asked = 0;
  answer = [&](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "breaker_probe") {
      ++asked;
      return array_reply({integer_reply(0), string_reply("half-open"), integer_reply(12),
                          string_reply("b")});
    }
    return integer_reply(1);
  };
  caf::anon_send(fleet, atoms::announce::value, std::string("state pay half-open 12 b 0 1"));
  caf::anon_send(fleet, atoms::announce::value, std::string("not an announcement"));
  time.run();
  auto adopted = of_kind(fleet_news::kind::adopt);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0].shared.state == breaker_state::half_open);
  CHECK(adopted[0].shared.generation == 12);
  CHECK(adopted[0].shared.tripped_by == "b");
  time.advance(200ms);
  CHECK(asked == 1); // b may vanish: this host asks to take over
  caf::anon_send(fleet, atoms::announce::value, std::string("state pay closed 13 b 0 0"));
  time.run();
  time.advance(1000ms);
  CHECK(asked == 1); // closed: nothing to probe
}

TEST_CASE_METHOD(fleet_fixture, "a sync reads each breaker and adopts only what Redis knows") {
  answer = [](const script_call& c) -> std::optional<redis_reply> {
    if (c.name != "breaker_read") return integer_reply(1);
    bool known = c.keys.at(0) == "t:breaker:{pay}";
    return array_reply({integer_reply(1000), string_reply(known ? "forced-open" : "closed"),
                        integer_reply(known ? 44 : 0), integer_reply(0), string_reply(""),
                        integer_reply(0), integer_reply(0), string_reply(""), array_reply({}),
                        array_reply({})});
  };
  auto other = rules();
  other.name = "other";
  caf::anon_send(fleet, atoms::sync::value, std::vector<fleet_rules>{rules(), other});
  time.run();
  CHECK(redis->count("breaker_read") == 2);
  auto adopted = of_kind(fleet_news::kind::adopt);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0].name == "pay");
  CHECK(adopted[0].shared.state == breaker_state::forced_open);
}

TEST_CASE_METHOD(fleet_fixture, "windows are collected once per interval and written in one batch") {
  time.advance(999ms);
  CHECK(of_kind(fleet_news::kind::collect).empty());
  time.advance(1ms);
  CHECK(of_kind(fleet_news::kind::collect).size() == 1);
  caf::anon_send(fleet, atoms::counts::value,
                 std::vector<breaker_count>{{"pay", 10, 6, 1}, {"other", 3, 0, 0}});
  time.run();
  REQUIRE(redis->count("breaker_counts") == 2);
  CHECK(redis->calls.at(0).args ==
        std::vector<std::string>{"a", "10", "6", "1", "5000"}); // ttl: five intervals
  time.advance(1000ms);
  CHECK(of_kind(fleet_news::kind::collect).size() == 2);
}

TEST_CASE_METHOD(fleet_fixture, "a settle refused (the probe's key expired, another host took it) takes Redis' state") {
  answer = [](const script_call& c) -> std::optional<redis_reply> {
    if (c.name == "breaker_settle")
      return array_reply({integer_reply(0), string_reply("not-holder"), integer_reply(20)});
    if (c.name == "breaker_read")
      return array_reply({integer_reply(1000), string_reply("half-open"), integer_reply(20),
                          integer_reply(0), string_reply("b"), integer_reply(0), integer_reply(1),
                          string_reply("b"), array_reply({}), array_reply({})});
    return integer_reply(1);
  };
  move(breaker_move::kind::probe_passed);
  auto adopted = of_kind(fleet_news::kind::adopt);
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0].shared.state == breaker_state::half_open);
  CHECK(adopted[0].shared.generation == 20);
  CHECK(adopted[0].shared.resync); // applied although this host's own close is newer
}

TEST_CASE_METHOD(fleet_fixture, "a grant is timed from the request's send, and its key outlives two probe timeouts") {
  redis_reply granted = array_reply({integer_reply(1), integer_reply(30)});
  answer = [](const script_call&) -> std::optional<redis_reply> { return std::nullopt; };
  move(breaker_move::kind::probe_due);
  REQUIRE(redis->count("breaker_probe") == 1);
  CHECK(redis->calls.back().args.at(1) == "10000"); // 2 x the 5000 ms probe timeout
  time.advance(1200ms); // Redis is slow to answer
  redis->answer_held(granted);
  time.run();
  auto grants = of_kind(fleet_news::kind::probe_granted);
  REQUIRE(grants.size() == 1);
  CHECK(grants[0].probe_ttl == 3800ms);
  CHECK(grants[0].shared.tripped_by == "a");
}
