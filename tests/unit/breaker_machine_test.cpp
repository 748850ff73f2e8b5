// One breaker on one host, on virtual time points: when it trips (and when not yet), how it
// probes in half-open, backoff on repeated trips, FORCE, and adopting the fleet's newer state
// while ignoring stale ones.
#include <catch2/catch.hpp>

#include "model/breaker/breaker_machine.hpp"

using namespace baton::breaker;
using namespace std::chrono_literals;
using time_point = breaker_machine::clock::time_point;

namespace {

/// A small policy: 10-call window, trips at 50% failed once 10 calls are in.
breaker_policy small_policy() {
  breaker_policy p;
  p.name = "payments";
  p.window_calls = 10;
  p.minimum_calls = 10;
  p.open_duration = 1s;
  p.slow_call_duration = 500ms;
  p.probe_timeout = 2s;
  return p;
}

/// Reports `n` calls with `result` at `now`; returns the last transition, if any.
std::optional<transition> report_n(breaker_machine& m, int n, outcome result, time_point now) {
  std::optional<transition> last;
  for (int i = 0; i < n; ++i)
    if (auto t = m.report(result, std::nullopt, now)) last = t;
  return last;
}

/// Trips `m` at `now` with failures alone.
void trip(breaker_machine& m, time_point now) {
  auto t = report_n(m, m.policy().minimum_calls, outcome::fail, now);
  REQUIRE(t);
  REQUIRE(t->to == breaker_state::open);
}

} // namespace

TEST_CASE("a closed breaker trips exactly at minimum_calls with the failure rate reached") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  CHECK_FALSE(report_n(m, 5, outcome::fail, t)); // 100% failed, but 5 calls < 10
  CHECK_FALSE(report_n(m, 4, outcome::ok, t));   // 5 of 9
  CHECK(m.check(t).allowed);
  auto tripped = m.report(outcome::ok, std::nullopt, t + 1ms); // 5 of 10 = 50%
  REQUIRE(tripped);
  CHECK(tripped->from == breaker_state::closed);
  CHECK(tripped->to == breaker_state::open);
  CHECK(tripped->reason == transition_reason::failure_rate);
  CHECK(tripped->generation == 1);
  CHECK(m.generation() == 1);
  CHECK(m.tripped_by() == "web-1");
  CHECK(m.tripped_at() == t + 1ms);
  CHECK(m.consecutive_trips() == 1);
  CHECK(m.counters().trips == 1);
  CHECK(m.totals(t).failures == 5); // kept for STATE while open
  auto denied = m.check(t + 2ms);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.state == breaker_state::open);
  CHECK(denied.next_probe_at == t + 1ms + 1s);
}

TEST_CASE("a full window below the failure threshold does not trip") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  CHECK_FALSE(report_n(m, 4, outcome::fail, t));
  CHECK_FALSE(report_n(m, 6, outcome::ok, t));   // 40%
  CHECK_FALSE(report_n(m, 6, outcome::ok, t));   // the failures leave the window
  CHECK_FALSE(report_n(m, 4, outcome::fail, t)); // 4 of the last 10
  CHECK(m.state() == breaker_state::closed);
  CHECK(m.report(outcome::fail, std::nullopt, t)); // 5 of the last 10
}

TEST_CASE("slow calls trip on the slow rate, by outcome or by latency") {
  auto p = small_policy();
  p.slow_rate_threshold = 30;
  breaker_machine m(p, "web-1");
  time_point t{};
  CHECK_FALSE(m.report(outcome::ok, 499ms, t)); // just under slow_call_duration
  CHECK_FALSE(m.report(outcome::slow, std::nullopt, t));
  CHECK_FALSE(m.report(outcome::ok, 500ms, t)); // at the duration: slow
  CHECK_FALSE(report_n(m, 6, outcome::ok, t));
  CHECK(m.totals(t).slow == 2);
  auto tripped = m.report(outcome::fail, 2s, t); // failed and slow: 3 of 10 slow
  REQUIRE(tripped);
  CHECK(tripped->reason == transition_reason::slow_rate);
  CHECK(m.totals(t).failures == 1);
}

TEST_CASE("a time-based breaker forgets failures older than its window") {
  auto p = small_policy();
  p.window = window_kind::time;
  p.window_span = 10s;
  p.minimum_calls = 4;
  breaker_machine m(p, "web-1");
  time_point t{};
  CHECK_FALSE(report_n(m, 3, outcome::fail, t));
  CHECK_FALSE(report_n(m, 4, outcome::ok, t + 10s)); // the failures have left
  CHECK(m.totals(t + 10s).calls == 4);
  CHECK(report_n(m, 4, outcome::fail, t + 11s)); // 4 of 8
}

TEST_CASE("an open breaker turns half-open at its time and admits exactly half_open_probes") {
  auto p = small_policy();
  p.half_open_probes = 2;
  breaker_machine m(p, "web-1");
  time_point t{};
  trip(m, t);
  CHECK_FALSE(m.check(t + 999ms).allowed);
  auto first = m.check(t + 1s);
  REQUIRE(first.changed);
  CHECK(first.changed->to == breaker_state::half_open);
  CHECK(first.changed->reason == transition_reason::open_elapsed);
  CHECK(first.changed->generation == 2);
  CHECK(first.allowed);
  CHECK(first.probe);
  CHECK(first.state == breaker_state::half_open);
  auto second = m.check(t + 1s + 10ms);
  CHECK(second.allowed);
  CHECK(second.probe);
  CHECK_FALSE(second.changed);
  auto third = m.check(t + 1s + 20ms);
  CHECK_FALSE(third.allowed);
  CHECK_FALSE(third.probe);
  CHECK(third.next_probe_at == t + 1s + 2s); // the first probe's give-back
  CHECK(m.probes_out() == 2);
  // A passed probe keeps its place: no third probe before it closes.
  CHECK_FALSE(m.report(outcome::ok, std::nullopt, t + 1s + 30ms));
  CHECK_FALSE(m.check(t + 1s + 40ms).allowed);
  auto closed = m.report(outcome::ok, std::nullopt, t + 1s + 50ms);
  REQUIRE(closed);
  CHECK(closed->to == breaker_state::closed);
  CHECK(closed->reason == transition_reason::probes_passed);
  CHECK(m.totals(t + 2s).calls == 0); // the window starts afresh
  CHECK(m.consecutive_trips() == 0);
  auto after = m.check(t + 2s);
  CHECK(after.allowed);
  CHECK_FALSE(after.probe);
}

TEST_CASE("a probe not reported within probe_timeout is given back") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  trip(m, t);
  CHECK(m.check(t + 1s).probe);
  CHECK_FALSE(m.check(t + 3s - 1ms).allowed);
  CHECK_FALSE(m.advance(t + 3s)); // given back, still half-open
  CHECK(m.probes_out() == 0);
  CHECK(m.counters().probes_given_back == 1);
  // Its report, late, is not a probe's result any more.
  CHECK_FALSE(m.report(outcome::fail, std::nullopt, t + 3s));
  CHECK(m.state() == breaker_state::half_open);
  CHECK(m.counters().ignored_reports == 1);
  auto again = m.check(t + 3s);
  CHECK(again.allowed);
  CHECK(again.probe);
}

TEST_CASE("a failed probe re-opens with backoff doubling up to the max, reset by a close") {
  auto p = small_policy();
  p.open_backoff = 2;
  p.max_open_duration = 5s;
  breaker_machine m(p, "web-1");
  time_point t{};
  trip(m, t);
  CHECK(m.open_until() == t + 1s);
  auto now = t + 1s;
  for (auto expected : {2s, 4s, 5s, 5s}) {
    REQUIRE(m.check(now).probe);
    auto reopened = m.report(outcome::fail, std::nullopt, now);
    REQUIRE(reopened);
    CHECK(reopened->from == breaker_state::half_open);
    CHECK(reopened->to == breaker_state::open);
    CHECK(reopened->reason == transition_reason::probe_failed);
    CHECK(m.open_until() == now + expected);
    CHECK_FALSE(m.check(now + expected - 1ms).allowed);
    now += expected;
  }
  CHECK(m.consecutive_trips() == 5);
  CHECK(m.counters().trips == 5);
  // A slow probe fails as well.
  REQUIRE(m.check(now).probe);
  CHECK(m.report(outcome::ok, 600ms, now)->to == breaker_state::open);
  now += 5s;
  REQUIRE(m.check(now).probe);
  CHECK(m.report(outcome::ok, 10ms, now)->to == breaker_state::closed);
  trip(m, now);
  CHECK(m.open_until() == now + 1s); // back to open_ms after the close
}

TEST_CASE("a host without the fleet's probe lease is denied in half-open") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  trip(m, t);
  auto denied = m.check(t + 1s, false);
  CHECK_FALSE(denied.allowed);
  CHECK_FALSE(denied.probe);
  CHECK(denied.state == breaker_state::half_open);
  CHECK_FALSE(denied.next_probe_at); // another host is probing
  CHECK(m.probes_out() == 0);
  CHECK(m.check(t + 1s, true).probe);
}

TEST_CASE("reports nobody awaits are counted and ignored") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  trip(m, t);
  CHECK_FALSE(report_n(m, 20, outcome::ok, t)); // open: calls admitted before the trip
  CHECK(m.counters().ignored_reports == 20);
  CHECK(m.check(t + 1s).probe);
  CHECK_FALSE(m.report(outcome::ok, std::nullopt, t + 1s, false)); // not the probe
  CHECK(m.state() == breaker_state::half_open);
  CHECK(m.counters().ignored_reports == 21);
}

TEST_CASE("force overrides the breaker until auto returns it to a fresh closed state") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  auto closed = m.force(force_mode::closed);
  REQUIRE(closed);
  CHECK(closed->to == breaker_state::forced_closed);
  CHECK_FALSE(m.force(force_mode::closed));       // already
  CHECK_FALSE(report_n(m, 50, outcome::fail, t)); // ignored: no trip
  CHECK(m.check(t).allowed);
  CHECK(m.check(t).state == breaker_state::forced_closed);

  auto opened = m.force(force_mode::open);
  REQUIRE(opened);
  CHECK(opened->from == breaker_state::forced_closed);
  auto denied = m.check(t + 1h); // no open time runs out
  CHECK_FALSE(denied.allowed);
  CHECK(denied.state == breaker_state::forced_open);
  CHECK_FALSE(denied.next_probe_at);

  auto released = m.force(force_mode::automatic);
  REQUIRE(released);
  CHECK(released->to == breaker_state::closed);
  CHECK(released->generation == 3);
  CHECK_FALSE(m.force(force_mode::automatic)); // not forced any more
  CHECK(m.totals(t + 1h).calls == 0);
  CHECK(m.check(t + 1h).allowed);
  trip(m, t + 1h); // deciding again
}

TEST_CASE("adopt applies a newer generation from the fleet and never a stale one") {
  auto p = small_policy();
  p.open_backoff = 2;
  breaker_machine m(p, "web-1");
  time_point t{};
  shared_state opened{breaker_state::open, 5, 3s, "web-2", 2};
  auto adopted = m.adopt(opened, t);
  REQUIRE(adopted);
  CHECK(adopted->from == breaker_state::closed);
  CHECK(adopted->to == breaker_state::open);
  CHECK(adopted->reason == transition_reason::adopted);
  CHECK(m.generation() == 5);
  CHECK(m.tripped_by() == "web-2");
  CHECK(m.open_until() == t + 3s);
  CHECK_FALSE(m.check(t + 1s).allowed);

  CHECK_FALSE(m.adopt({breaker_state::closed, 4, 0ms, "", 0}, t + 1s)); // older
  CHECK_FALSE(m.adopt({breaker_state::closed, 5, 0ms, "", 0}, t + 1s)); // as new as ours
  CHECK(m.state() == breaker_state::open);

  // Local moves continue from the adopted generation, and backoff from its trips.
  auto half = m.check(t + 3s);
  REQUIRE(half.changed);
  CHECK(half.changed->generation == 6);
  REQUIRE(half.probe);
  auto reopened = m.report(outcome::fail, std::nullopt, t + 3s);
  REQUIRE(reopened);
  CHECK(reopened->generation == 7);
  CHECK(m.open_until() == t + 3s + 4s); // third trip: 1 s * 2^2
  CHECK(m.tripped_by() == "web-1");

  auto closed = m.adopt({breaker_state::closed, 9, 0ms, "", 0}, t + 4s);
  REQUIRE(closed);
  CHECK(closed->to == breaker_state::closed);
  CHECK(m.consecutive_trips() == 0);
  CHECK(m.check(t + 4s).allowed);
  // The same state with a newer generation is still applied (and reported).
  auto same = m.adopt({breaker_state::closed, 10, 0ms, "", 0}, t + 4s);
  REQUIRE(same);
  CHECK(same->from == same->to);
}

TEST_CASE("share gives another host what it needs to adopt this host's trip") {
  breaker_machine here(small_policy(), "web-1");
  breaker_machine there(small_policy(), "web-2");
  time_point t{};
  trip(here, t);
  auto shared = here.share(t + 400ms);
  CHECK(shared.state == breaker_state::open);
  CHECK(shared.generation == 1);
  CHECK(shared.open_remaining == 600ms);
  CHECK(shared.tripped_by == "web-1");
  CHECK(shared.consecutive_trips == 1);
  time_point their_clock = t + 1h;
  REQUIRE(there.adopt(shared, their_clock));
  CHECK(there.tripped_by() == "web-1");
  CHECK_FALSE(there.check(their_clock + 599ms).allowed);
  CHECK(there.check(their_clock + 600ms).probe);
}

TEST_CASE("states, outcomes and force words read and print as the protocol spells them") {
  for (auto s : {breaker_state::closed, breaker_state::open, breaker_state::half_open,
                 breaker_state::forced_open, breaker_state::forced_closed})
    CHECK(parse_state(state_name(s)) == s);
  CHECK(std::string(state_name(breaker_state::half_open)) == "half-open");
  CHECK(std::string(state_name(breaker_state::forced_closed)) == "forced-closed");
  CHECK_FALSE(parse_state("half_open"));
  CHECK(parse_outcome("ok") == outcome::ok);
  CHECK(parse_outcome("fail") == outcome::fail);
  CHECK(parse_outcome("slow") == outcome::slow);
  CHECK_FALSE(parse_outcome("OK"));
  CHECK_FALSE(parse_outcome("failed"));
  CHECK(parse_force_mode("auto") == force_mode::automatic);
  CHECK(parse_force_mode("open") == force_mode::open);
  CHECK(parse_force_mode("closed") == force_mode::closed);
  CHECK_FALSE(parse_force_mode("close"));
  CHECK(std::string(reason_name(transition_reason::probe_failed)) == "probe-failed");
}

TEST_CASE("a resync applies Redis' state even when not newer, and the generation still grows") {
  breaker_machine m(small_policy(), "web-1");
  time_point t{};
  REQUIRE(m.adopt({breaker_state::half_open, 20, 0ms, "b", 1}, t));
  auto probe = m.check(t);
  REQUIRE(probe.probe);
  auto closed = m.report(outcome::ok, std::nullopt, t); // this host's own close: 21
  REQUIRE(closed);
  CHECK(m.generation() == 21);
  shared_state redis{breaker_state::half_open, 20, 0ms, "b", 1};
  CHECK_FALSE(m.adopt(redis, t)); // as an announcement: stale
  redis.resync = true;
  auto back = m.adopt(redis, t);
  REQUIRE(back);
  CHECK(m.state() == breaker_state::half_open);
  CHECK(m.generation() == 22);
  CHECK_FALSE(m.check(t, false).allowed); // another host holds the probe
}
