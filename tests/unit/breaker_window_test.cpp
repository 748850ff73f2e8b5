// A breaker's window on virtual time points: a count window keeps exactly the last N calls,
// a time window forgets each second as it leaves the span (also after long quiet spells),
// and reset forgets everything.
#include <catch2/catch.hpp>

#include "model/breaker/sliding_window.hpp"

using namespace baton::breaker;
using namespace std::chrono_literals;

namespace {
constexpr call_outcome ok{false, false};
constexpr call_outcome failed{true, false};
constexpr call_outcome slow{false, true};
constexpr call_outcome failed_slowly{true, true};
} // namespace

TEST_CASE("a count window holds the last N calls and its totals follow the oldest out") {
  auto w = sliding_window::last_calls(3);
  sliding_window::clock::time_point t{};
  CHECK(w.totals(t).calls == 0);
  CHECK(w.totals(t).failure_rate() == 0.0);
  w.record(failed, t);
  w.record(slow, t);
  w.record(ok, t);
  auto full = w.totals(t);
  CHECK(full.calls == 3);
  CHECK(full.failures == 1);
  CHECK(full.slow == 1);
  w.record(ok, t + 1h); // the failure leaves; time does not matter to a count window
  auto after = w.totals(t + 2h);
  CHECK(after.calls == 3);
  CHECK(after.failures == 0);
  CHECK(after.slow == 1);
  w.record(failed_slowly, t);
  w.record(ok, t);
  auto last = w.totals(t);
  CHECK(last.calls == 3);
  CHECK(last.failures == 1);
  CHECK(last.slow == 1);
  CHECK(last.failure_rate() == Approx(100.0 / 3));
}

TEST_CASE("a time window forgets each second as it leaves the span") {
  auto w = sliding_window::last_seconds(10s);
  sliding_window::clock::time_point t{};
  w.record(failed, t + 100ms);
  w.record(failed, t + 900ms); // same second
  w.record(ok, t + 5s);
  w.record(slow, t + 9s + 999ms);
  auto all = w.totals(t + 9s + 999ms);
  CHECK(all.calls == 4);
  CHECK(all.failures == 2);
  CHECK(all.slow == 1);
  // Second 0 leaves when second 10 begins.
  auto at_ten = w.totals(t + 10s);
  CHECK(at_ten.calls == 2);
  CHECK(at_ten.failures == 0);
  CHECK(w.totals(t + 15s).calls == 1); // second 5 gone
  CHECK(w.totals(t + 19s).calls == 0); // second 9 gone
  w.record(failed, t + 19s + 500ms);
  CHECK(w.totals(t + 28s).failures == 1);
  CHECK(w.totals(t + 29s).failures == 0);
}

TEST_CASE("a time window is empty after a quiet spell longer than its span, and counts again") {
  auto w = sliding_window::last_seconds(5s);
  sliding_window::clock::time_point t{};
  for (int i = 0; i < 5; ++i)
    w.record(failed, t + std::chrono::seconds(i));
  CHECK(w.totals(t + 4s).calls == 5);
  CHECK(w.totals(t + 1h).calls == 0);
  // The buckets left from before hold stale seconds: they must neither count nor be
  // subtracted again as the new seconds pass over them.
  w.record(ok, t + 1h + 1s);
  w.record(ok, t + 1h + 3s);
  CHECK(w.totals(t + 1h + 3s).calls == 2);
  CHECK(w.totals(t + 1h + 3s).failures == 0);
  CHECK(w.totals(t + 1h + 6s).calls == 1);
  CHECK(w.totals(t + 1h + 8s).calls == 0);
}

TEST_CASE("a time window counts a late time point in its newest second") {
  auto w = sliding_window::last_seconds(3s);
  sliding_window::clock::time_point t{};
  w.record(ok, t + 10s);
  w.record(failed, t + 2s); // older than the newest second: counted now, expires with it
  CHECK(w.totals(t + 10s).failures == 1);
  CHECK(w.totals(t + 13s).calls == 0);
}

TEST_CASE("reset forgets every call of either kind of window") {
  sliding_window::clock::time_point t{};
  auto count = sliding_window::last_calls(2);
  count.record(failed, t);
  count.record(failed, t);
  count.reset();
  CHECK(count.totals(t).calls == 0);
  count.record(ok, t);
  CHECK(count.totals(t).calls == 1);
  CHECK(count.totals(t).failures == 0);

  auto time = sliding_window::last_seconds(60s);
  time.record(failed, t + 1s);
  time.reset();
  CHECK(time.totals(t + 1s).calls == 0);
  time.record(ok, t + 2s);
  CHECK(time.totals(t + 2s).calls == 1);
}

TEST_CASE("a policy chooses its window") {
  breaker_policy p;
  p.window = window_kind::count;
  p.window_calls = 2;
  auto count = sliding_window::for_policy(p);
  sliding_window::clock::time_point t{};
  for (int i = 0; i < 5; ++i)
    count.record(failed, t);
  CHECK(count.totals(t).calls == 2);
  p.window = window_kind::time;
  p.window_span = 2s;
  auto time = sliding_window::for_policy(p);
  for (int i = 0; i < 5; ++i)
    time.record(failed, t);
  CHECK(time.totals(t).calls == 5);
  CHECK(time.totals(t + 2s).calls == 0);
}
